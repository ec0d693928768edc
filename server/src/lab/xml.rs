//! A small XML document model for the lab's `[xml]` values: enough of `System.Xml.XmlDocument`
//! to read and edit web.config (elements, attributes, child nodes, `SelectSingleNode` on
//! absolute paths), keeping comments, declarations and text it does not interpret as written.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// A node of a document.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Element {
        name: String,
        attributes: Vec<(String, String)>,
        children: Vec<usize>,
        parent: Option<usize>,
    },
    /// Text, comments, declarations: kept as written.
    Raw(String),
}

/// A parsed document.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Document {
    nodes: Vec<Node>,
    /// Top-level nodes in order (declaration, comments, the root element).
    top: Vec<usize>,
}

/// A reference to one element of a shared document, as a PowerShell value holds it.
#[derive(Clone)]
pub struct XmlRef {
    doc: Rc<RefCell<Document>>,
    /// `None` for the document itself.
    node: Option<usize>,
}

impl fmt::Debug for XmlRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XmlRef({:?})", self.node)
    }
}

impl PartialEq for XmlRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.doc, &other.doc) && self.node == other.node
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Document {
    /// Parses `text`; errors name the byte offset of the problem.
    pub fn parse(text: &str) -> Result<Document, String> {
        let mut doc = Document::default();
        let mut stack: Vec<usize> = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while !rest.is_empty() {
            let (piece, len) = if let Some(after) = rest.strip_prefix("<!--") {
                let end = after
                    .find("-->")
                    .ok_or(format!("unclosed comment at {offset}"))?;
                (Piece::Raw(&rest[..end + 7]), end + 7)
            } else if rest.starts_with("<?") || rest.starts_with("<!") {
                let end = rest
                    .find('>')
                    .ok_or(format!("unclosed declaration at {offset}"))?;
                (Piece::Raw(&rest[..end + 1]), end + 1)
            } else if let Some(after) = rest.strip_prefix("</") {
                let end = after
                    .find('>')
                    .ok_or(format!("unclosed end tag at {offset}"))?;
                (Piece::End(after[..end].trim()), end + 3)
            } else if rest.starts_with('<') {
                let end = rest.find('>').ok_or(format!("unclosed tag at {offset}"))?;
                let inner = &rest[1..end];
                let (inner, empty) = match inner.strip_suffix('/') {
                    Some(i) => (i, true),
                    None => (inner, false),
                };
                (Piece::Start(inner, empty), end + 1)
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                (Piece::Raw(&rest[..end]), end)
            };
            match piece {
                Piece::Raw(raw) => {
                    let id = doc.push(Node::Raw(raw.to_string()));
                    doc.attach(stack.last().copied(), id);
                }
                Piece::Start(inner, empty) => {
                    let (name, attributes) =
                        parse_tag(inner).ok_or(format!("malformed tag at {offset}"))?;
                    let parent = stack.last().copied();
                    let id = doc.push(Node::Element {
                        name,
                        attributes,
                        children: Vec::new(),
                        parent,
                    });
                    doc.attach(parent, id);
                    if !empty {
                        stack.push(id);
                    }
                }
                Piece::End(name) => {
                    let open = stack
                        .pop()
                        .ok_or(format!("unexpected </{name}> at {offset}"))?;
                    if doc.name(open) != Some(name) {
                        return Err(format!(
                            "</{name}> at {offset} does not close <{}>",
                            doc.name(open).unwrap_or("")
                        ));
                    }
                }
            }
            rest = &rest[len..];
            offset += len;
        }
        if let Some(open) = stack.last() {
            return Err(format!(
                "<{}> is never closed",
                doc.name(*open).unwrap_or("")
            ));
        }
        Ok(doc)
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn attach(&mut self, parent: Option<usize>, id: usize) {
        match parent {
            Some(p) => {
                if let Node::Element { children, .. } = &mut self.nodes[p] {
                    children.push(id);
                }
            }
            None => self.top.push(id),
        }
    }

    fn name(&self, id: usize) -> Option<&str> {
        match &self.nodes[id] {
            Node::Element { name, .. } => Some(name),
            Node::Raw(_) => None,
        }
    }

    fn element_children(&self, id: Option<usize>) -> Vec<usize> {
        let ids = match id {
            Some(i) => match &self.nodes[i] {
                Node::Element { children, .. } => children.clone(),
                Node::Raw(_) => Vec::new(),
            },
            None => self.top.clone(),
        };
        ids.into_iter()
            .filter(|c| self.name(*c).is_some())
            .collect()
    }

    /// The document as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for id in &self.top {
            self.render_node(*id, &mut out);
        }
        out
    }

    fn render_node(&self, id: usize, out: &mut String) {
        match &self.nodes[id] {
            Node::Raw(raw) => out.push_str(raw),
            Node::Element {
                name,
                attributes,
                children,
                ..
            } => {
                out.push('<');
                out.push_str(name);
                for (k, v) in attributes {
                    out.push_str(&format!(" {k}=\"{}\"", escape(v)));
                }
                if children.is_empty() {
                    out.push_str(" />");
                } else {
                    out.push('>');
                    for c in children {
                        self.render_node(*c, out);
                    }
                    out.push_str(&format!("</{name}>"));
                }
            }
        }
    }
}

enum Piece<'a> {
    Raw(&'a str),
    Start(&'a str, bool),
    End(&'a str),
}

/// `name a="1" b='2'` into the name and attributes.
fn parse_tag(inner: &str) -> Option<(String, Vec<(String, String)>)> {
    let inner = inner.trim();
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = inner[..name_end].to_string();
    let mut rest = inner[name_end..].trim_start();
    let mut attributes = Vec::new();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let close = after[1..].find(quote)? + 1;
        attributes.push((key, unescape(&after[1..close])));
        rest = after[close + 1..].trim_start();
    }
    (!name.is_empty()).then_some((name, attributes))
}

impl XmlRef {
    /// A new shared document.
    pub fn document(doc: Document) -> XmlRef {
        XmlRef {
            doc: Rc::new(RefCell::new(doc)),
            node: None,
        }
    }

    fn at(&self, node: usize) -> XmlRef {
        XmlRef {
            doc: self.doc.clone(),
            node: Some(node),
        }
    }

    /// The element's name (`#document` for the document).
    pub fn name(&self) -> String {
        match self.node {
            Some(n) => self.doc.borrow().name(n).unwrap_or("").to_string(),
            None => "#document".into(),
        }
    }

    /// Child elements named `name` (case-sensitive, as XML is).
    pub fn children_named(&self, name: &str) -> Vec<XmlRef> {
        let doc = self.doc.borrow();
        doc.element_children(self.node)
            .into_iter()
            .filter(|c| doc.name(*c) == Some(name))
            .map(|c| self.at(c))
            .collect()
    }

    /// All child elements (`.ChildNodes`).
    pub fn children(&self) -> Vec<XmlRef> {
        let ids = self.doc.borrow().element_children(self.node);
        ids.into_iter().map(|c| self.at(c)).collect()
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let doc = self.doc.borrow();
        match self.node.map(|n| &doc.nodes[n]) {
            Some(Node::Element { attributes, .. }) => attributes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone()),
            _ => None,
        }
    }

    /// `SetAttribute(name, value)`.
    pub fn set_attribute(&self, name: &str, value: &str) {
        if let Some(n) = self.node
            && let Node::Element { attributes, .. } = &mut self.doc.borrow_mut().nodes[n]
        {
            match attributes.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value.to_string(),
                None => attributes.push((name.to_string(), value.to_string())),
            }
        }
    }

    /// `SelectSingleNode('/a/b')`: absolute paths of element names only.
    pub fn select_single(&self, path: &str) -> Option<XmlRef> {
        let mut current = XmlRef {
            doc: self.doc.clone(),
            node: None,
        };
        for step in path.trim_start_matches('/').split('/') {
            current = current.children_named(step).into_iter().next()?;
        }
        Some(current)
    }

    /// `CreateElement(name)`: a new element not yet in the tree.
    pub fn create_element(&self, name: &str) -> XmlRef {
        let id = self.doc.borrow_mut().push(Node::Element {
            name: name.to_string(),
            attributes: Vec::new(),
            children: Vec::new(),
            parent: None,
        });
        self.at(id)
    }

    /// `AppendChild(child)`: adds `child` (of the same document) at the end.
    pub fn append_child(&self, child: &XmlRef) -> Result<(), String> {
        let (Some(parent), Some(c)) = (self.node, child.node) else {
            return Err("AppendChild needs two elements".into());
        };
        if !Rc::ptr_eq(&self.doc, &child.doc) {
            return Err("The node to be inserted is from a different document context.".into());
        }
        let mut doc = self.doc.borrow_mut();
        // Keep the file's indentation: put the new element on its own line.
        let indent = doc.nodes.get(parent).and_then(|n| match n {
            Node::Element { children, .. } => children.first().and_then(|f| match &doc.nodes[*f] {
                Node::Raw(raw) if raw.trim().is_empty() => Some(raw.clone()),
                _ => None,
            }),
            _ => None,
        });
        let mut added = Vec::new();
        if let Some(space) = indent {
            added.push(doc.push(Node::Raw(space)));
        }
        added.push(c);
        if let Node::Element { parent: p, .. } = &mut doc.nodes[c] {
            *p = Some(parent);
        }
        // Before the trailing whitespace, so the closing tag stays where it was.
        let at = match &doc.nodes[parent] {
            Node::Element { children, .. } => match children.last() {
                Some(last) if matches!(&doc.nodes[*last], Node::Raw(r) if r.trim().is_empty()) => {
                    children.len() - 1
                }
                _ => children.len(),
            },
            Node::Raw(_) => return Err("AppendChild needs an element".into()),
        };
        if let Node::Element { children, .. } = &mut doc.nodes[parent] {
            for (i, id) in added.into_iter().enumerate() {
                children.insert(at + i, id);
            }
        }
        Ok(())
    }

    /// `RemoveChild(child)`.
    pub fn remove_child(&self, child: &XmlRef) -> Result<(), String> {
        let (Some(parent), Some(c)) = (self.node, child.node) else {
            return Err("RemoveChild needs two elements".into());
        };
        let mut doc = self.doc.borrow_mut();
        if let Node::Element { children, .. } = &mut doc.nodes[parent] {
            let before = children.len();
            children.retain(|x| *x != c);
            if children.len() == before {
                return Err("The node to be removed is not a child of this node.".into());
            }
        }
        Ok(())
    }

    /// The whole document's text.
    pub fn outer_document(&self) -> String {
        self.doc.borrow().render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <!-- OWA -->\n  <appSettings>\n    <add key=\"A\" value=\"1 &amp; 2\" />\n  </appSettings>\n</configuration>\n";

    #[test]
    fn parse_edit_and_render() {
        let doc = XmlRef::document(Document::parse(CONFIG).unwrap());
        assert_eq!(Document::parse(CONFIG).unwrap().render(), CONFIG);
        let settings = doc.select_single("/configuration/appSettings").unwrap();
        let adds = settings.children_named("add");
        assert_eq!(adds[0].attribute("value").as_deref(), Some("1 & 2"));
        adds[0].set_attribute("value", "3");
        let node = doc.create_element("add");
        node.set_attribute("key", "IMServerName");
        node.set_attribute("value", "atl-cs-001.litwareinc.com");
        settings.append_child(&node).unwrap();
        let text = doc.outer_document();
        assert!(text.contains("<add key=\"A\" value=\"3\" />"), "{text}");
        assert!(
            text.contains("<add key=\"IMServerName\" value=\"atl-cs-001.litwareinc.com\" />"),
            "{text}"
        );
        assert!(text.contains("<!-- OWA -->"));
        let again = Document::parse(&text).unwrap();
        assert_eq!(again.render(), text);
        settings.remove_child(&node).unwrap();
        assert!(!doc.outer_document().contains("IMServerName"));
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in ["<a><b></a>", "<a>", "<a x=1></a>", "<!-- open"] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
    }
}
