//! The `sluice` binary; the command line itself lives in [`sluice::cli`].

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    keep_freed_buffers();
    std::process::ExitCode::from(sluice::cli::main(std::env::args_os()))
}

/// glibc gives every thread that allocates an arena of its own, up to 8 per core, and
/// memory freed in one arena is not reused by the others. A table runs a dozen threads
/// (parsers, plugin instances, encoders) that pass batches between them, so each arena
/// keeps its own high-water mark: on 2 cores a second plugin instance cost ~65 MB of
/// peak RSS, ~30 MB of it with one arena per core. One arena per two cores: on 2 cores,
/// one arena instead of two took 5–6 MiB off the peak of a gzip dates run and a copy
/// (83 -> 78, 56 -> 50 MiB) for the same CPU time, as the threads mostly allocate whole
/// buffers and seldom contend. `MALLOC_ARENA_MAX`, when set, still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = i32::try_from((cores / 2).max(1)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets a tunable of glibc's allocator, before any thread
        // but this one exists; it fails harmlessly (returns 0) on a bad value.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}

/// glibc's default returns large freed blocks to the kernel (each a mapping of its own,
/// and the top of each arena past a threshold that moves with them), so the buffers a
/// table allocates again and again (the Parquet encoders' dictionaries and pages, each
/// row group) are faulted in afresh every time: 84–104k page faults on a 10M-row
/// shipments copy. Blocks under 4 MiB kept in the arenas, and arenas trimmed only past
/// 16 MiB free, brought that to ~13k and took 3–9 % off its CPU time, and 45k -> 17k on
/// the dates run, for the same peak memory (resample, dates) or 7–9 MiB more (the copy).
/// (At 1 MiB the faults went up to ~200k.) `MALLOC_MMAP_THRESHOLD_`,
/// `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES`, when set, still win.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |name| std::env::var_os(name).is_some();
        if [
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TRIM_THRESHOLD_",
            "GLIBC_TUNABLES",
        ]
        .into_iter()
        .any(set)
        {
            return;
        }
        // SAFETY: as in `limit_malloc_arenas`: tunables set before any other thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
        }
    }
}
