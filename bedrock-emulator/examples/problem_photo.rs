//! Writes a test photo of a problem whose strip holds the given text (the
//! emulator reads it back as the photo's transcript):
//! `cargo run -p bedrock-emulator --example problem_photo -- "text" out.png [width height]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(text), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: problem_photo TEXT OUT.png [WIDTH HEIGHT]");
        std::process::exit(2);
    };
    let width = args.next().and_then(|w| w.parse().ok()).unwrap_or(900);
    let height = args.next().and_then(|h| h.parse().ok()).unwrap_or(600);
    let photo = bedrock_emulator::vision::problem_photo(&text, width, height);
    photo.save(&out).expect("write the photo");
}
