//! Cutting output to a model's budget: the middle goes, the start and the
//! end stay, and a marker says how much went.

/// The marker standing for `tokens` tokens that were cut.
pub(crate) fn marker(tokens: usize) -> String {
    format!("…{tokens} tokens truncated…")
}

/// `text` cut in the middle to at most `budget` bytes (plus the marker), on
/// character boundaries; whether anything was cut.
pub(crate) fn truncate_middle(text: &str, budget: usize) -> (String, bool) {
    if text.len() <= budget {
        return (text.to_string(), false);
    }
    let mut head_end = budget / 2;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - (budget - budget / 2);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let cut = tail_start - head_end;
    let tokens = cut.div_ceil(crate::types::BYTES_PER_TOKEN);
    (format!("{}{}{}", &text[..head_end], marker(tokens), &text[tail_start..]), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(truncate_middle("hello", 5), ("hello".to_string(), false));
    }

    #[test]
    fn the_middle_is_cut_and_counted() {
        let text = format!("{}{}{}", "a".repeat(40), "m".repeat(100), "z".repeat(40));
        let (out, cut) = truncate_middle(&text, 80);
        assert!(cut);
        assert_eq!(out, format!("{}…25 tokens truncated…{}", "a".repeat(40), "z".repeat(40)));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let text = "é".repeat(50);
        let (out, cut) = truncate_middle(&text, 11);
        assert!(cut);
        assert!(out.starts_with("éé…") && out.ends_with("…ééé"), "{out}");
    }
}
