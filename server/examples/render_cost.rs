//! What rendering a streaming answer costs the server, in a form that
//! `valgrind --tool=callgrind` counts exactly (instructions do not depend on
//! what else the machine is doing, unlike seconds):
//!
//! ```text
//! cargo build --release -p weasel-server --example render_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/render_cost MODE [PIECE_BYTES] [RENDER_EVERY_PIECES]
//! ```
//!
//! MODE `whole` renders 20 answers of 6 KB (the benchmark's Korean
//! explanations) once each; `stream` streams them in pieces of
//! PIECE_BYTES (default 20, about a token) and renders after every
//! RENDER_EVERY_PIECES pieces (default 1: per token; 3 is what
//! `RENDER_EVERY` makes of 25 tokens/s). Divide the total by 20.

use render::stream::Streaming;

const ANSWERS: u64 = 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "stream".into());
    let piece: usize = args.next().map_or(20, |v| v.parse().expect("PIECE_BYTES"));
    let every: usize = args.next().map_or(1, |v| v.parse().expect("RENDER_EVERY_PIECES"));
    let (mut renders, mut html_bytes) = (0usize, 0usize);
    for seed in 0..ANSWERS {
        let text = bedrock_emulator::long(seed, 6_000);
        match mode.as_str() {
            "whole" => {
                renders += 1;
                html_bytes += render::render(&text).len();
            }
            "stream" => {
                let mut streaming = Streaming::default();
                let (mut start, mut pieces) = (0, 0);
                while start < text.len() {
                    let mut end = (start + piece.max(1)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    streaming.append(&text[start..end]);
                    pieces += 1;
                    if pieces % every.max(1) == 0 {
                        renders += 1;
                        html_bytes += streaming.update().map_or(0, |patch| patch.html.len());
                    }
                    start = end;
                }
                renders += 1;
                html_bytes += streaming.finish().map_or(0, |patch| patch.html.len());
            }
            other => panic!("MODE is whole or stream, not {other}"),
        }
    }
    println!(
        "{mode}: {ANSWERS} answers, {} renders each, {} bytes of HTML sent each",
        renders as u64 / ANSWERS,
        html_bytes as u64 / ANSWERS
    );
}
