//! Strict decoding: each value has exactly one encoding (docs/protocol.md
//! §3), and every other encoding of it is malformed, even where a lenient
//! MessagePack decoder could make sense of it.

use cordon_ipc::{Error, Message, OsBytes, Size, Spawn, decode_body, encode_body};

/// A MessagePack body written value by value.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn map(mut self, len: u32) -> Self {
        rmp::encode::write_map_len(&mut self.0, len).unwrap();
        self
    }
    fn array(mut self, len: u32) -> Self {
        rmp::encode::write_array_len(&mut self.0, len).unwrap();
        self
    }
    fn str(mut self, text: &str) -> Self {
        rmp::encode::write_str(&mut self.0, text).unwrap();
        self
    }
    /// A `str` marker around bytes that need not be UTF-8.
    fn raw_str(mut self, bytes: &[u8]) -> Self {
        rmp::encode::write_str_len(&mut self.0, bytes.len() as u32).unwrap();
        self.0.extend_from_slice(bytes);
        self
    }
    fn bin(mut self, bytes: &[u8]) -> Self {
        rmp::encode::write_bin(&mut self.0, bytes).unwrap();
        self
    }
    fn uint(mut self, value: u64) -> Self {
        rmp::encode::write_uint(&mut self.0, value).unwrap();
        self
    }
    fn nil(mut self) -> Self {
        rmp::encode::write_nil(&mut self.0).unwrap();
        self
    }
    fn bool(mut self, value: bool) -> Self {
        rmp::encode::write_bool(&mut self.0, value).unwrap();
        self
    }
    /// `{"Spawn": {"id": 1, "argv": <argv>, "env": <env>, "stdin": false, "tty": <tty>}}`,
    /// with `argv`, `env` and `tty` written by the callers.
    fn spawn(
        argv: impl FnOnce(Body) -> Body,
        env: impl FnOnce(Body) -> Body,
        tty: impl FnOnce(Body) -> Body,
    ) -> Vec<u8> {
        let body = Body::default().map(1).str("Spawn").map(5).str("id").uint(1).str("argv");
        let body = argv(body).str("env");
        let body = env(body).str("stdin").bool(false).str("tty");
        tty(body).0
    }
}

fn no_env(body: Body) -> Body {
    body.map(0)
}

fn no_tty(body: Body) -> Body {
    body.nil()
}

fn echo_hi(body: Body) -> Body {
    body.array(2).str("echo").str("hi")
}

/// Decodes `body` and expects `Malformed` whose text contains `why`.
#[track_caller]
fn assert_malformed(body: &[u8], why: &str) {
    match decode_body(body) {
        Err(Error::Malformed(text)) => assert!(text.contains(why), "{why:?} not in {text:?}"),
        other => panic!("expected Malformed ({why}), got {other:?} for {body:02x?}"),
    }
}

#[test]
fn the_encodings_used_below_are_valid_when_canonical() {
    let body = Body::spawn(echo_hi, no_env, no_tty);
    assert!(matches!(decode_body(&body), Ok(Message::Spawn(_))));
    let body = Body::default().map(1).str("Stdin").map(2).str("id").uint(1).str("data").bin(b"hi").0;
    assert_eq!(decode_body(&body).unwrap(), Message::Stdin { id: 1, data: b"hi".to_vec() });
    let body = Body::default().map(1).str("List").map(0).0;
    assert_eq!(decode_body(&body).unwrap(), Message::List {});
}

#[test]
fn bytes_sent_as_a_str_are_malformed() {
    let body = Body::default().map(1).str("Stdin").map(2).str("id").uint(1).str("data").str("hi").0;
    assert_malformed(&body, "Stdin.data: expected a bin, got a str");
}

#[test]
fn bytes_sent_as_an_array_of_integers_are_malformed() {
    let body = Body::default().map(1).str("Output").map(3).str("id").uint(1).str("stream").str("stdout");
    let body = body.str("data").array(2).uint(104).uint(105).0;
    assert_malformed(&body, "Output.data: expected a bin, got an array");
}

#[test]
fn an_argument_sent_as_a_bin_that_is_utf8_is_malformed() {
    let body = Body::spawn(|b| b.array(2).str("echo").bin(b"hi"), no_env, no_tty);
    assert_malformed(&body, "Spawn.argv[1]: a bin that is valid UTF-8");
}

#[test]
fn an_environment_value_or_name_sent_as_a_bin_that_is_utf8_is_malformed() {
    let body = Body::spawn(echo_hi, |b| b.map(1).str("PATH").bin(b"/bin"), no_tty);
    assert_malformed(&body, "Spawn.env value 0: a bin that is valid UTF-8");
    let body = Body::spawn(echo_hi, |b| b.map(1).bin(b"PATH").str("/bin"), no_tty);
    assert_malformed(&body, "Spawn.env name 0: a bin that is valid UTF-8");
}

#[test]
fn an_environment_name_given_twice_is_malformed() {
    let body = Body::spawn(echo_hi, |b| b.map(2).str("A").str("1").str("A").str("2"), no_tty);
    assert_malformed(&body, "repeats an earlier name");
}

#[test]
fn arguments_environment_and_cwd_that_are_not_utf8_travel_as_bin() {
    let spawn = Spawn {
        id: 1,
        argv: vec!["printf".into(), "%s".into(), OsBytes::from(vec![0xff])],
        cwd: Some(OsBytes::from(b"/tmp/caf\xe9".to_vec())),
        env: [(OsBytes::from(b"N\xff".to_vec()), OsBytes::from(vec![0x80])), ("A".into(), "b".into())]
            .into_iter()
            .collect(),
        tty: None,
        stdin: false,
        timeout_ms: None,
    };
    let body = encode_body(&Message::Spawn(spawn.clone())).unwrap();
    // `str` "printf", then `bin` of the one byte ff.
    assert!(body.windows(3).any(|w| w == [0xc4, 0x01, 0xff]), "{body:02x?}");
    assert!(body.windows(7).any(|w| w == [0xa6, b'p', b'r', b'i', b'n', b't', b'f']), "{body:02x?}");
    assert_eq!(decode_body(&body).unwrap(), Message::Spawn(spawn));
}

#[test]
fn a_str_that_is_not_utf8_is_malformed() {
    let body = Body::spawn(|b| b.array(1).raw_str(b"\xff"), no_env, no_tty);
    assert_malformed(&body, "Spawn.argv[0]: a str that is not valid UTF-8");
    let body = Body::default().map(1).str("HelloReject").map(1).str("reason").raw_str(b"\xc3").0;
    assert_malformed(&body, "HelloReject.reason: a str that is not valid UTF-8");
}

#[test]
fn a_message_whose_fields_are_a_positional_array_is_malformed() {
    let body = Body::default().map(1).str("Ack").array(2).uint(1).uint(2).0;
    assert_malformed(&body, "Ack: expected a map of named fields, got an array");
}

#[test]
fn a_size_sent_as_an_array_is_malformed() {
    let body = Body::spawn(echo_hi, no_env, |b| b.array(2).uint(5).uint(6));
    assert_malformed(&body, "Spawn.tty: expected a map of named fields, got an array");
    let sized = Body::spawn(echo_hi, no_env, |b| b.map(2).str("rows").uint(5).str("cols").uint(6));
    match decode_body(&sized).unwrap() {
        Message::Spawn(spawn) => assert_eq!(spawn.tty, Some(Size { rows: 5, cols: 6 })),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_envelope_key_sent_as_a_bin_is_malformed() {
    let body = Body::default().map(1).bin(b"List").map(0).0;
    assert_malformed(&body, "the message type must be a str, not a bin");
}

#[test]
fn a_field_name_that_is_not_a_str_is_malformed() {
    let body = Body::default().map(1).str("Poll").map(1).bin(b"id").uint(1).0;
    assert_malformed(&body, "Poll: a field name must be a str, not a bin");
    let body = Body::default().map(1).str("Poll").map(1).uint(0).uint(1).0;
    assert_malformed(&body, "Poll: a field name must be a str, not an integer");
}

#[test]
fn a_field_less_message_needs_an_empty_map_not_an_array_or_nil() {
    let body = Body::default().map(1).str("List").array(0).0;
    assert_malformed(&body, "List: expected a map of named fields, got an array");
    let body = Body::default().map(1).str("List").nil().0;
    assert_malformed(&body, "List: expected a map of named fields, got nil");
    let body = Body::default().map(1).str("Shutdown").array(0).0;
    assert_malformed(&body, "Shutdown: expected a map of named fields, got an array");
}

#[test]
fn an_enum_value_sent_as_a_bin_is_malformed() {
    let body = Body::default().map(1).str("Signal").map(2).str("id").uint(1).str("signal").bin(b"kill").0;
    assert_malformed(&body, "Signal.signal: expected a str, got a bin");
}

#[test]
fn a_field_given_twice_is_malformed() {
    let body = Body::default().map(1).str("Poll").map(2).str("id").uint(1).str("id").uint(2).0;
    assert_malformed(&body, "Poll: field \"id\" appears twice");
}

#[test]
fn integers_out_of_range_are_malformed_whatever_their_format() {
    let body = Body::default().map(1).str("Resize").map(3).str("id").uint(1).str("rows").uint(65536);
    let body = body.str("cols").uint(80).0;
    assert_malformed(&body, "Resize.rows: 65536 is not a u16");
    let mut body = Body::default().map(1).str("Poll").map(1).str("id").0;
    rmp::encode::write_sint(&mut body, -1).unwrap();
    assert_malformed(&body, "Poll.id: -1 is not a u64");
}

#[test]
fn unknown_fields_of_any_shape_are_still_ignored() {
    let body = Body::default().map(1).str("Poll").map(3).str("id").uint(7).str("later").array(2).bin(b"x");
    let body = body.map(1).uint(3).nil().str("more").raw_str(b"ok").0;
    assert_eq!(decode_body(&body).unwrap(), Message::Poll { id: 7 });
}

/// `{"Status": {...}}` of an older runner, which had no `awaiting_input`,
/// then the same with the field.
fn status_body(awaiting_input: Option<bool>) -> Vec<u8> {
    let fields = 7 + u32::from(awaiting_input.is_some());
    let body = Body::default().map(1).str("Status").map(fields).str("id").uint(3).str("pid").uint(42);
    let body = body.str("argv").array(1).str("sh").str("tty").bool(true).str("running").bool(true);
    let body = body.str("elapsed_ms").uint(5).str("unacked_bytes").uint(0);
    match awaiting_input {
        Some(value) => body.str("awaiting_input").bool(value).0,
        None => body.0,
    }
}

#[test]
fn a_status_without_awaiting_input_means_not_awaiting_and_one_with_it_is_read() {
    let read = |body: Vec<u8>| match decode_body(&body).unwrap() {
        Message::Status(status) => status.awaiting_input,
        other => panic!("expected a Status, got {other:?}"),
    };
    assert!(!read(status_body(None)));
    assert!(read(status_body(Some(true))));
    assert!(!read(status_body(Some(false))));
    let mut wrong = status_body(Some(true));
    let last = wrong.len() - 1;
    wrong[last] = 0x01; // the integer 1 where a bool belongs
    assert_malformed(&wrong, "awaiting_input: expected true or false");
}
