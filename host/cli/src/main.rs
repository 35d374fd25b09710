//! The `sluice` binary; the command line itself lives in [`sluice::cli`].

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    std::process::ExitCode::from(sluice::cli::main(std::env::args_os()))
}

/// glibc gives every thread that allocates an arena of its own, up to 8 per core, and
/// memory freed in one arena is not reused by the others. A table runs a dozen threads
/// (parsers, plugin instances, encoders) that pass batches between them, so each arena
/// keeps its own high-water mark: on 2 cores a second plugin instance cost ~65 MB of
/// peak RSS, ~30 MB of it with one arena per core. Less contention is not worth that to
/// threads that mostly allocate whole buffers. `MALLOC_ARENA_MAX`, when set, still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets a tunable of glibc's allocator, before any thread
        // but this one exists; it fails harmlessly (returns 0) on a bad value.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}
