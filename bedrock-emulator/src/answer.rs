//! The emulator's answer: exam-tutor shaped, deterministic, and an echo of
//! what it was sent.

use serde_json::Value;

/// The text blocks of one message, joined.
pub fn text_of(message: &Value) -> String {
    texts(&message["content"], "\n")
}

/// The `text` of every block in a list of content blocks, joined by `separator`.
fn texts(blocks: &Value, separator: &str) -> String {
    blocks
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(separator)
        })
        .unwrap_or_default()
}

fn snippet(text: &str, chars: usize) -> String {
    let clean: String = text
        .split("[[")
        .next()
        .unwrap_or(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut short: String = clean.chars().take(chars).collect();
    if clean.chars().count() > chars {
        short.push('…');
    }
    short
}

/// Whether the system prompt asks for a conversation title rather than an answer.
pub fn is_title_request(request: &Value) -> bool {
    texts(&request["system"], " ")
        .to_lowercase()
        .contains("conversation title")
}

/// A short title for a question: its first three words, then "정리" for a
/// Korean question or "notes" for any other. Distinct from the server's own
/// fallback (the truncated first line), so tests can tell which one they see.
pub fn title(question: &str) -> String {
    let clean = snippet(question, 200);
    let first: Vec<&str> = clean.split_whitespace().take(3).collect();
    let korean = clean.chars().any(|c| ('가'..='힣').contains(&c));
    format!("{} {}", first.join(" "), if korean { "정리" } else { "notes" })
}

/// Whether the system prompt asks for the images to be written out as text.
pub fn is_transcription_request(request: &Value) -> bool {
    texts(&request["system"], " ")
        .to_lowercase()
        .contains("transcribe")
}

/// What a transcription request gets: each image's strip text, or a note
/// that nothing could be read, in order.
fn transcript(images: &[Value]) -> String {
    if images.is_empty() {
        return "[사진이 없어요]".into();
    }
    images
        .iter()
        .enumerate()
        .map(|(i, image)| match image["text"].as_str() {
            Some(text) => text.to_string(),
            None => format!(
                "[사진 {}: 글자를 읽을 수 없어요 ({}×{})]",
                i + 1,
                image["width"],
                image["height"]
            ),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The full answer text for `request`.
pub fn compose(model_id: &str, request: &Value) -> String {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let questions: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(text_of)
        .collect();
    let last = questions.last().cloned().unwrap_or_default();
    let images: Vec<Value> = messages
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b.get("image").cloned())
        .collect();
    let system = texts(&request["system"], " ");
    if is_transcription_request(request) {
        return transcript(&images);
    }
    let read_from_photos = images
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let photos = if read_from_photos.is_empty() {
        String::new()
    } else {
        format!("\n   사진에서 읽은 글: «{}»", snippet(&read_from_photos, 60))
    };
    let images = images.len();
    // A stable choice from the question, so the same question gets the same answer.
    let choice = ["①", "②", "③", "④", "⑤"][last.bytes().map(usize::from).sum::<usize>() % 5];
    let previous = if questions.len() > 1 {
        format!("직전 질문: «{}»", snippet(&questions[questions.len() - 2], 40))
    } else {
        "직전 질문 없음".to_string()
    };

    format!(
        "정답: {choice}\n\n\
         > 오프라인 에뮬레이터의 답변이에요. Claude가 아니라 `{model_id}` 자리에서 만든 예시입니다.\n\n\
         ## 풀이\n\n\
         1. 질문을 읽었어요: «{question}»\n\
         2. 대화 맥락: 메시지 {count}개, 질문 {asked}개, 이미지 {images}장. {previous}{photos}\n\
         3. 핵심 식은 $x^2 + 2x + 1 = (x+1)^2$ 이고, 넓이는 다음과 같아요.\n\n\
         $$\\int_0^1 x\\,dx = \\frac{{1}}{{2}}$$\n\n\
         4. 가격 표기 $5 와 $10 은 수식이 아니에요. 광합성은 빛 에너지를 화학 에너지로 바꾸는 과정이에요.\n\n\
         ## 다른 선택지가 틀린 이유\n\n\
         - **{other}**: 지문의 근거와 맞지 않아요.\n\
         - *나머지*: 조건 \\(a > 0\\) 을 놓쳤어요.\n\n\
         (시스템 지시 {system_len}자 반영)",
        question = snippet(&last, 60),
        count = messages.len(),
        asked = questions.len(),
        other = if choice == "①" { "②" } else { "①" },
        system_len = system.chars().count(),
    )
}

/// Sentences of a long 국어 explanation, for answers of a chosen length.
const EXPLANATION: [&str; 12] = [
    "지문의 첫 문단은 글 전체의 화제를 제시하고, 뒤 문단들은 그 화제를 두 관점에서 나누어 설명해요.",
    "선택지 ③은 둘째 문단의 내용을 정확하게 요약하고 있으므로 적절해요.",
    "반면 선택지 ①은 '항상'이라는 표현 때문에 지문의 단서와 어긋나요.",
    "필자는 기존 견해의 한계를 지적한 뒤, 새로운 해석이 왜 필요한지를 사례로 보여 줘요.",
    "밑줄 친 ㉠의 앞뒤 문장을 함께 읽으면 인과 관계가 드러나요.",
    "이때 '그러나'로 시작하는 문장이 글의 흐름을 바꾸는 지점이라는 점에 주목해야 해요.",
    "<보기>의 조건을 지문에 적용하면 $a_n = 2n + 1$ 처럼 규칙이 일정하게 유지돼요.",
    "따라서 ⓑ의 사례는 필자의 주장을 뒷받침하는 근거로 쓰였다고 볼 수 있어요.",
    "선택지 ④는 인물의 심리를 과장해서 해석했기 때문에 정답이 될 수 없어요.",
    "시의 화자는 대상과의 거리를 유지하면서 담담한 어조로 그리움을 드러내요.",
    "**핵심**: 문단 사이의 접속 표현을 따라가면 글의 구조가 한눈에 보여요.",
    "마지막 문단은 앞의 논의를 종합하며 독자에게 질문을 던지는 방식으로 마무리돼요.",
];

/// An answer of about `bytes` bytes (never more) of Korean explanation,
/// deterministic for `seed`: for benchmarks of real answer lengths.
pub fn long(seed: u64, bytes: usize) -> String {
    let mut text = String::from("정답: ③\n\n## 풀이\n\n");
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut sentences = 0;
    loop {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let sentence = EXPLANATION[(state >> 33) as usize % EXPLANATION.len()];
        sentences += 1;
        let separator = if sentences % 4 == 0 { "\n\n" } else { " " };
        if text.len() + sentence.len() + separator.len() > bytes {
            break;
        }
        text.push_str(sentence);
        text.push_str(separator);
    }
    // Filled up to the length with a shorter closing, cut at a character.
    for c in "이상으로 풀이를 마칠게요. 더 궁금한 점이 있으면 물어보세요."
        .chars()
        .cycle()
    {
        if text.len() + c.len_utf8() > bytes {
            break;
        }
        text.push(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn titles_are_short_and_in_the_question_language() {
        assert_eq!(
            title("광합성의 명반응과 암반응을 비교하시오"),
            "광합성의 명반응과 암반응을 정리"
        );
        assert_eq!(
            title("Find the maximum of f(x) [[pace:5]]"),
            "Find the maximum notes"
        );
        let asking = json!({ "system": [{ "text": "Write a conversation title." }] });
        assert!(is_title_request(&asking));
        assert!(!is_title_request(
            &json!({ "system": [{ "text": "You are Weasel" }] })
        ));
    }

    #[test]
    fn long_answers_have_the_length_asked_and_differ_by_seed() {
        for bytes in [2_000, 6_000, 9_000] {
            let text = long(7, bytes);
            assert!(
                text.len() <= bytes && text.len() > bytes - 4,
                "{} for {bytes}",
                text.len()
            );
            assert!(text.starts_with("정답: ③"));
        }
        assert_eq!(long(1, 3_000), long(1, 3_000));
        assert_ne!(long(1, 3_000), long(2, 3_000));
    }
}
