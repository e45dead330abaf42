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

/// The full answer text for `request`.
pub fn compose(model_id: &str, request: &Value) -> String {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let questions: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(text_of)
        .collect();
    let last = questions.last().cloned().unwrap_or_default();
    let images = messages
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b.get("image").is_some())
        .count();
    let system = texts(&request["system"], " ");
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
         2. 대화 맥락: 메시지 {count}개, 질문 {asked}개, 이미지 {images}장. {previous}\n\
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
}
