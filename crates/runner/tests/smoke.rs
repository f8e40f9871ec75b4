use cordon::{Command, LaunchOptions, Policy, Sandbox};

#[tokio::test]
async fn smoke() {
    let sandbox = Sandbox::launch(LaunchOptions::new(Policy::FullAccess).runner(env!("CARGO_BIN_EXE_cordon-runner")))
        .await
        .unwrap();
    let out = sandbox.run(Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 4"])).await.unwrap();
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code, Some(4));
    sandbox.shutdown().await.unwrap();
}
