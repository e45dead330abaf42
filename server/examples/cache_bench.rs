//! What prompt caching saves on a 국어 conversation: `scripts/bench-cache.sh`.
//!
//! A three-turn conversation over a passage of about 2,000 tokens (the
//! emulator counts one token per two characters) goes through the real
//! model code (`model::bedrock::Bedrock`, the AWS SDK) to the Bedrock
//! emulator, which bills tokens the way Bedrock does: plain input, cache
//! writes and cache reads. It runs with prompt caching on and off, for each
//! request shape, and prints per turn the tokens billed and what they cost
//! at the default list prices, then the totals.

use std::sync::Arc;

use futures_util::StreamExt;
use weasel_server::{
    config::Settings,
    model::{ModelEvent, ModelProvider, ModelRequest, Purpose, Turn, Usage, bedrock::Bedrock},
    spending::PriceTable,
    storage::{Role, Subject},
};

/// About 4,000 characters of 국어 passage: 2,000 emulator tokens.
fn passage() -> String {
    let sentence = "훈민정음은 백성을 가르치는 바른 소리라는 뜻으로, 세종이 집현전 학자들과 함께 만든 문자 체계를 설명한 책이다. ";
    let mut text = String::from("[지문]\n");
    while text.chars().count() < 4_000 {
        text.push_str(sentence);
    }
    text
}

async fn conversation(model: &Bedrock) -> Vec<Usage> {
    let questions = [
        format!("{}\n\n윗글의 내용과 일치하지 않는 것은? ① … ⑤", passage()),
        "③번이 왜 틀렸는지 더 자세히 설명해 줘.".to_string(),
        "이 지문의 핵심 주장을 두 문장으로 요약해 줘.".to_string(),
    ];
    let mut turns: Vec<Turn> = vec![];
    let mut usages = vec![];
    for question in questions {
        turns.push(Turn::text(Role::User, question));
        let request = ModelRequest {
            purpose: Purpose::Answer,
            system: weasel_server::solve::system_prompt(Subject::Korean),
            turns: turns.clone(),
        };
        let mut stream = model.stream(request).await.expect("the emulator answers");
        let (mut answer, mut usage) = (String::new(), Usage::default());
        while let Some(event) = stream.next().await {
            match event.expect("a clean stream") {
                ModelEvent::Text(text) => answer.push_str(&text),
                ModelEvent::Usage(u) => usage = u,
                ModelEvent::Stop(_) => {}
            }
        }
        usages.push(usage);
        turns.push(Turn::text(Role::Assistant, answer));
    }
    usages
}

#[tokio::main]
async fn main() {
    let prices = PriceTable::default();
    for (model_id, shape) in [
        ("global.anthropic.claude-sonnet-4-6", "converse"),
        ("global.anthropic.claude-sonnet-4-6", "messages"),
    ] {
        println!("{model_id} through {shape}:");
        let mut totals = vec![];
        for cache in ["on", "off"] {
            // A fresh emulator, so no run reads another's cache entries.
            let emulator = bedrock_emulator::spawn(
                "127.0.0.1:0".parse().unwrap(),
                bedrock_emulator::Config::default(),
            )
            .await
            .expect("emulator");
            let settings = Settings::from_lookup(|name| match name {
                "WEASEL_MODEL_ID" => Some(model_id.into()),
                "WEASEL_MODEL_API" => Some(shape.into()),
                "WEASEL_PROMPT_CACHE" => Some(cache.into()),
                _ => None,
            })
            .expect("settings");
            let model =
                Arc::new(Bedrock::new(&settings.model, Some(format!("http://{emulator}")), true).await);
            let usages = conversation(&model).await;
            let mut micros = 0;
            for (turn, usage) in usages.iter().enumerate() {
                let cost = prices.cost_micros(model_id, usage);
                micros += cost;
                println!(
                    "  caching {cache:>3}, turn {}: input {:>5}, cache write {:>5}, cache read {:>5}, output {:>4} tokens → ${:.5}",
                    turn + 1,
                    usage.input_tokens,
                    usage.cache_write_tokens,
                    usage.cache_read_tokens,
                    usage.output_tokens,
                    cost as f64 / 1e6
                );
            }
            let billed_input: i64 = usages
                .iter()
                .map(|u| u.input_tokens + u.cache_write_tokens + u.cache_read_tokens)
                .sum();
            let full_price: i64 = usages.iter().map(|u| u.input_tokens).sum();
            println!(
                "  caching {cache:>3}: {billed_input} prompt tokens over three turns, {full_price} of them at the full input price; ${:.5} in all",
                micros as f64 / 1e6
            );
            totals.push(micros);
        }
        println!(
            "  caching saves {:.0} % of this conversation's cost",
            100.0 * (1.0 - totals[0] as f64 / totals[1].max(1) as f64)
        );
    }
}
