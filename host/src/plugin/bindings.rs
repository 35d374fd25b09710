//! Host-side bindings generated from `wit/sluice.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "table-plugin",
});
