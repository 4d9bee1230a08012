//! File contents for notes, media and documents: Base64 (`model::wire`) and a minimal
//! one-page PDF, so a receiver that opens a Media attachment
//! sees a real file rather than placeholder bytes.

pub use crate::model::wire::base64;

/// Escapes text for a PDF string literal; non-ASCII becomes `?` (the standard fonts'
/// encoding would not show it anyway).
fn pdf_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// A one-page PDF showing `title` and `lines` in Helvetica, with a correct cross-reference
/// table so strict readers open it.
pub fn pdf(title: &str, lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 16 Tf 56 760 Td ");
    content.push_str(&format!("({}) Tj /F1 11 Tf", pdf_text(title)));
    for line in lines {
        content.push_str(&format!(" 0 -18 Td ({}) Tj", pdf_text(line)));
    }
    content.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_xref_points_at_objects() {
        let bytes = pdf("Consent (signed)", &["Line one".into(), "Ünïcode".into()]);
        let text = String::from_utf8(bytes).expect("ASCII");
        assert!(text.starts_with("%PDF-1.4"));
        let xref_at: usize = text
            .lines()
            .rev()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .expect("startxref value");
        assert!(text[xref_at..].starts_with("xref"));
        let first = text.find("1 0 obj").expect("object 1");
        assert!(text.contains(&format!("{first:010} 00000 n")));
        assert!(text.contains("\\(signed\\)"));
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(xml_escape("O'Brien <&>"), "O&apos;Brien &lt;&amp;&gt;");
    }
}
