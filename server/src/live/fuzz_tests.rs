//! The live protocol on hostile client input. In memory, [`session`] is driven with random
//! client messages (text of any content and size within a bound, binary, ping, pong), with
//! frames published to the hub in between, then a close frame with any code, a transport
//! error or the end of the stream: every published frame arrives in order after the garbage and
//! the session ends as closed. Over a real socket (axum's upgrade, as `GET /ws` does it), raw
//! frames with any opcode, reserved bits, masking and declared length either leave the
//! connection serving or close it, never panic the server, and never stop it from serving a
//! well-behaved client.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocketUpgrade};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ws::{session, LiveOptions, SessionEnd};
use super::{Frame, Hub};
use crate::ingest::fuzz_tests::{config, panics_in};
use crate::store::Store;

const WAIT: Duration = Duration::from_secs(5);

fn quiet() -> LiveOptions {
    LiveOptions {
        replay_limit: 100,
        heartbeat: Duration::from_secs(3600),
        send_timeout: Duration::from_secs(30),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `cases` cases of `strategy` through `test`, failing with the shrunk input.
fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value)) {
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, |v| {
        test(v);
        Ok(())
    }) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/// One step of a client's script.
#[derive(Debug, Clone)]
enum Step {
    /// A message from the client.
    Client(Message),
    /// The server publishes an event (or a notice, without seq).
    Publish { notice: bool },
}

/// How the client's side ends.
#[derive(Debug, Clone)]
enum End {
    Close(Option<(u16, String)>),
    TransportError,
    StreamEnds,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,64}",
        2 => prop::sample::select(vec![
            r#"{"type":"hello"}"#, r#"{"type":"resync"}"#, r#"{"since":-1}"#, "{", "null",
            r#"{"type":"incident","seq":9223372036854775807}"#, "\u{0}", "\u{feff}",
        ])
        .prop_map(String::from),
        1 => (1usize..(1 << 20)).prop_map(|n| "x".repeat(n)),
    ]
}

fn payload(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn client_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        4 => text().prop_map(|t| Message::Text(Utf8Bytes::from(t))),
        2 => prop_oneof![payload(256), (1usize..(1 << 20)).prop_map(|n| Bytes::from(vec![0xff; n]))]
            .prop_map(Message::Binary),
        1 => payload(200).prop_map(Message::Ping),
        1 => payload(200).prop_map(Message::Pong),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => client_message().prop_map(Step::Client),
        1 => any::<bool>().prop_map(|notice| Step::Publish { notice }),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        4 => proptest::option::of((any::<u16>(), ".{0,40}")).prop_map(End::Close),
        1 => Just(End::TransportError),
        1 => Just(End::StreamEnds),
    ]
}

fn since() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(0)),
        1 => any::<i64>().prop_map(Some),
    ]
}

async fn next(rx: &mut mpsc::Receiver<Message>) -> Option<Message> {
    tokio::time::timeout(WAIT, rx.next())
        .await
        .expect("the session answered in time")
}

fn text_of(msg: &Message) -> String {
    match msg {
        Message::Text(t) => t.as_str().to_string(),
        other => panic!("text expected, got {other:?}"),
    }
}

async fn garbage_case(store: &Store, since: Option<i64>, steps: Vec<Step>, end: End) {
    let hub = Hub::new(1024);
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(1024);
    let (in_tx, in_rx) = mpsc::unbounded::<Result<Message, io::Error>>();
    let task = tokio::spawn(session(
        out_tx,
        in_rx,
        hub.clone(),
        store.clone(),
        since,
        None,
        || async { true },
        quiet(),
    ));
    let hello = text_of(&next(&mut out_rx).await.expect("hello"));
    assert!(hello.contains(r#""type":"hello""#), "{hello}");
    // The store is empty: a client ahead of it is told to resync.
    if since.is_some_and(|s| s > 0) {
        let resync = text_of(&next(&mut out_rx).await.expect("resync"));
        assert!(resync.contains("resync"), "{resync}");
    }
    let mut expected = Vec::new();
    let mut seq = 0;
    for step in steps {
        match step {
            Step::Client(msg) => in_tx.unbounded_send(Ok(msg)).expect("session reads"),
            Step::Publish { notice } => {
                let text = if notice {
                    format!(r#"{{"type":"district_changed","generation":{seq}}}"#)
                } else {
                    seq += 1;
                    format!(r#"{{"type":"incident","seq":{seq}}}"#)
                };
                let frame = if notice {
                    Frame::notice(Utf8Bytes::from(text.clone()))
                } else {
                    Frame::event(seq, Utf8Bytes::from(text.clone()), Vec::new())
                };
                hub.publish(frame);
                expected.push(text);
            }
        }
    }
    // One more after all the garbage, so every case checks the feed still runs.
    seq += 1;
    let last = format!(r#"{{"type":"incident","seq":{seq}}}"#);
    hub.publish(Frame::event(seq, Utf8Bytes::from(last.clone()), Vec::new()));
    expected.push(last);
    for want in &expected {
        let got = text_of(&next(&mut out_rx).await.expect("a live frame"));
        assert_eq!(&got, want);
    }
    match end {
        End::Close(frame) => {
            let frame = frame.map(|(code, reason)| CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            });
            in_tx
                .unbounded_send(Ok(Message::Close(frame)))
                .expect("session reads");
        }
        End::TransportError => in_tx
            .unbounded_send(Err(io::Error::other("reset")))
            .expect("session reads"),
        End::StreamEnds => drop(in_tx),
    }
    let ended = tokio::time::timeout(WAIT, task)
        .await
        .expect("the session ended in time")
        .expect("the session did not panic");
    assert!(matches!(ended, Err(SessionEnd::Closed)), "{ended:?}");
    assert!(next(&mut out_rx).await.is_none(), "nothing after the end");
    assert_eq!(hub.subscriber_count(), 0, "unsubscribed");
}

#[test]
fn garbage_from_the_client_never_stops_the_feed() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(Store::open_sqlite(dir.path())).expect("store");
    let strategy = (since(), prop::collection::vec(step(), 0..24), end());
    run(256, strategy, |(since, steps, end)| {
        rt.block_on(garbage_case(&store, since, steps, end));
    });
}

// ---------------------------------------------------------------------------------------------
// Over a real socket
// ---------------------------------------------------------------------------------------------

/// `GET /ws` as the server routes it: axum's upgrade with its default limits, then the session.
async fn serve(hub: Hub, store: Store) -> SocketAddr {
    async fn upgrade(
        ws: WebSocketUpgrade,
        State((hub, store)): State<(Hub, Store)>,
    ) -> axum::response::Response {
        ws.on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            let _ = session(
                sink,
                stream,
                hub,
                store,
                None,
                None,
                || async { true },
                quiet(),
            )
            .await;
        })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/ws", get(upgrade))
        .with_state((hub, store));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Connects and completes the opening handshake by hand.
async fn connect(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.expect("request");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(WAIT, s.read(&mut b))
            .await
            .expect("a response in time")
            .expect("read");
        assert_eq!(n, 1, "closed during the handshake");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// What reading a server frame gave.
#[derive(Debug, PartialEq)]
enum Read {
    Frame(u8, Vec<u8>),
    /// End of stream, a reset or a close frame.
    Closed,
}

async fn read_frame(s: &mut TcpStream) -> Read {
    let read = async {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await?;
        let len = match h[1] & 0x7f {
            126 => u64::from(s.read_u16().await?),
            127 => s.read_u64().await?,
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0).min(1 << 20)];
        s.read_exact(&mut payload).await?;
        Ok::<_, io::Error>((h[0] & 0x0f, payload))
    };
    match tokio::time::timeout(WAIT, read)
        .await
        .expect("the server answered in time")
    {
        Ok((8, _)) | Err(_) => Read::Closed,
        Ok((op, payload)) => Read::Frame(op, payload),
    }
}

/// Reads until a text frame or the end, passing over pongs.
async fn read_text(s: &mut TcpStream) -> Option<String> {
    loop {
        match read_frame(s).await {
            Read::Frame(1, p) => return Some(String::from_utf8_lossy(&p).into_owned()),
            Read::Frame(_, _) => continue,
            Read::Closed => return None,
        }
    }
}

/// A client frame as it goes on the wire.
#[derive(Debug, Clone)]
struct RawFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
    /// A length declared instead of the payload's, with nothing or less following.
    declared: Option<u64>,
}

impl RawFrame {
    fn bytes(&self) -> Vec<u8> {
        let mut out =
            vec![(u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0x0f)];
        let len = self.declared.unwrap_or(self.payload.len() as u64);
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        if len < 126 {
            out.push(m | len as u8);
        } else if len <= 0xffff {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        let key = self.mask.unwrap_or_default();
        if self.mask.is_some() {
            out.extend_from_slice(&key);
        }
        out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }
}

fn raw_frame() -> impl Strategy<Value = RawFrame> {
    (
        prop_oneof![6 => Just(true), 1 => Just(false)],
        prop_oneof![6 => Just(0u8), 1 => 0u8..8],
        prop_oneof![
            6 => prop::sample::select(vec![1u8, 2, 9, 10]),
            1 => Just(0u8),
            1 => Just(8u8),
            1 => 0u8..16,
        ],
        prop_oneof![8 => any::<[u8; 4]>().prop_map(Some), 1 => Just(None)],
        prop_oneof![
            6 => prop::collection::vec(any::<u8>(), 0..200),
            1 => (126usize..70_000).prop_map(|n| vec![b'a'; n]),
            1 => prop::collection::vec(0x80u8..0xff, 1..8),
        ],
        prop_oneof![
            8 => Just(None),
            1 => prop::sample::select(vec![u64::MAX, 1 << 63, (16 << 20) + 1, 1 << 40, 200]).prop_map(Some),
        ],
    )
        .prop_map(|(fin, rsv, opcode, mask, payload, declared)| RawFrame {
            fin,
            rsv,
            opcode,
            mask,
            payload,
            declared,
        })
}

fn wire() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(raw_frame(), 1..5)
            .prop_map(|frames| frames.iter().flat_map(RawFrame::bytes).collect()),
        1 => prop::collection::vec(any::<u8>(), 1..300),
    ]
}

/// A well-behaved client still gets `hello` and a live frame.
async fn still_serving(addr: SocketAddr, hub: &Hub, seq: i64) {
    let mut good = connect(addr).await;
    let hello = read_text(&mut good).await.expect("hello");
    assert!(hello.contains("hello"), "{hello}");
    let text = format!(r#"{{"type":"incident","seq":{seq}}}"#);
    hub.publish(Frame::event(seq, Utf8Bytes::from(text.clone()), Vec::new()));
    assert_eq!(read_text(&mut good).await.as_deref(), Some(text.as_str()));
}

#[test]
fn hostile_frames_on_a_real_socket_close_or_are_ignored() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(Store::open_sqlite(dir.path())).expect("store");
    let hub = Hub::new(1024);
    let addr = rt.block_on(serve(hub.clone(), store));
    let seq = std::cell::Cell::new(0i64);
    run(128, wire(), |bytes| {
        let ((), panics) = panics_in(|| {
            rt.block_on(async {
                let mut hostile = connect(addr).await;
                let hello = read_text(&mut hostile).await.expect("hello");
                assert!(hello.contains("hello"), "{hello}");
                // The peer may already have closed: a failed write is one way of being refused.
                let _ = hostile.write_all(&bytes).await;
                seq.set(seq.get() + 1);
                let text = format!(r#"{{"type":"incident","seq":{}}}"#, seq.get());
                hub.publish(Frame::event(
                    seq.get(),
                    Utf8Bytes::from(text.clone()),
                    Vec::new(),
                ));
                // Either the frame arrives (the garbage was ignored) or the server closed.
                if let Some(got) = read_text(&mut hostile).await {
                    assert_eq!(got, text);
                }
                drop(hostile);
                seq.set(seq.get() + 1);
                still_serving(addr, &hub, seq.get()).await;
            });
        });
        assert!(
            panics.is_empty(),
            "the server panicked at {panics:?} on {bytes:?}"
        );
    });
}
