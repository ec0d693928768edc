//! PowerShell's CLIXML error stream turned back into text.

/// Standard error as people read it: PowerShell started with redirected streams writes it as
/// CLIXML (`#< CLIXML`, error records in `<S S="Error">`, progress records to ignore).
pub fn stderr_text(raw: &str) -> String {
    let Some(xml) = raw.trim_start().strip_prefix("#< CLIXML") else {
        return raw.to_string();
    };
    let mut lines = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<S S=\"Error\">") {
        let after = &rest[start + "<S S=\"Error\">".len()..];
        let end = after.find("</S>").unwrap_or(after.len());
        lines.push_str(&unescape_clixml(&after[..end]));
        rest = &after[end..];
    }
    lines
}

fn unescape_clixml(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("_x") {
        out.push_str(&rest[..start]);
        let code = rest.get(start + 2..start + 6);
        match code.filter(|_| rest.get(start + 6..start + 7) == Some("_")) {
            Some(hex) if u32::from_str_radix(hex, 16).is_ok() => {
                let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap_or(0x3F)).unwrap_or('?');
                if c != '\r' {
                    out.push(c);
                }
                rest = &rest[start + 7..];
            }
            _ => {
                out.push_str("_x");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clixml_errors_are_read_and_progress_is_dropped() {
        let raw = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64></MS></Obj><S S=\"Error\">Cannot find &quot;pool&quot;_x000D__x000A_</S><S S=\"Error\">At line:1 char:1_x000D__x000A_</S></Objs>";
        assert_eq!(stderr_text(raw), "Cannot find \"pool\"\nAt line:1 char:1\n");
        assert_eq!(stderr_text("plain error\n"), "plain error\n");
    }
}
