//! Host-side bindings generated from `wit/sluice.wit`: one set per world a plugin can
//! export. Both worlds import the same `types` and `host` interfaces, so the columnar
//! bindings reuse the first set's modules and one linker serves both.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "table-plugin",
});

pub(crate) mod columnar {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "columnar-plugin",
        with: {
            "sluice:plugin/types": crate::plugin::bindings::sluice::plugin::types,
            "sluice:plugin/host": crate::plugin::bindings::sluice::plugin::host,
        },
    });
}
