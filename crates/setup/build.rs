//! Embeds cordon-setup.exe's manifest (`requireAdministrator`, so Windows
//! asks for elevation) into the `cordon-setup` binary, for Windows targets
//! only. Elsewhere there is nothing to embed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cordon-setup.rc");
    println!("cargo:rerun-if-changed=cordon-setup.exe.manifest");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let result = embed_resource::compile_for("cordon-setup.rc", ["cordon-setup"], embed_resource::NONE);
    if let Err(err) = result.manifest_required() {
        let msvc = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc");
        let windows_host = std::env::var("HOST").is_ok_and(|host| host.contains("windows"));
        if msvc && !windows_host {
            // Type-checking the MSVC flavour from another OS: there is no
            // resource compiler for it here, and nothing is linked.
            println!(
                "cargo:warning=cordon-setup.exe's manifest is not embedded ({err}): no MSVC resource compiler"
            );
        } else {
            panic!("embedding cordon-setup.exe's manifest: {err}");
        }
    }
}
