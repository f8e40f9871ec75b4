//! Prints a real `Hello` frame, and a few others, as hex (used for docs/protocol.md).
use cordon_ipc::*;

fn main() {
    let hello = Message::Hello(Hello {
        versions: (1, 1),
        token: "6f2c9a0e".into(),
        max_frame: DEFAULT_MAX_FRAME,
        window: DEFAULT_WINDOW,
    });
    for m in [
        hello,
        Message::List {},
        Message::Signal { id: 1, signal: Signal::Interrupt },
        Message::Output { id: 1, stream: Stream::Stdout, data: b"hi\n".to_vec() },
    ] {
        let frame = encode_frame(&m, DEFAULT_MAX_FRAME).unwrap();
        let hex: Vec<String> = frame.iter().map(|b| format!("{b:02x}")).collect();
        println!("{}: {}", m.name(), hex.join(" "));
    }
}
