//! A small XML document model for the lab's `[xml]` values: enough of `System.Xml.XmlDocument`
//! to read and edit web.config (elements, attributes, child nodes, `SelectSingleNode` on
//! absolute paths). Parsing is quick-xml's (entities, character references, CDATA, `>` inside
//! attribute values); everything the lab does not change is written back exactly as it was
//! read, so web.config round-trips byte for byte.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// A node of a document.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Element {
        name: String,
        attributes: Vec<(String, String)>,
        children: Vec<usize>,
        parent: Option<usize>,
        /// The tags as read, while the element is unchanged: written back as they were.
        source: Option<Tags>,
    },
    /// Text, references, CDATA, comments, declarations: kept as written.
    Raw(String),
}

/// An element's tags as they stand in the source.
#[derive(Clone, Debug, PartialEq)]
struct Tags {
    start: String,
    /// `None` for an empty-element tag (`<add ... />`).
    end: Option<String>,
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

/// An attribute value for a tag written anew.
fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

impl Document {
    /// Parses `text`; errors name the byte offset of the problem.
    pub fn parse(text: &str) -> Result<Document, String> {
        let mut doc = Document::default();
        let mut stack: Vec<usize> = Vec::new();
        let mut reader = Reader::from_str(text);
        loop {
            let from = reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| format!("{e} at {}", reader.error_position()))?;
            let raw = &text[from..reader.buffer_position() as usize];
            match event {
                Event::Eof => break,
                Event::Start(tag) | Event::Empty(tag) => {
                    let empty = raw.ends_with("/>");
                    let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                    let mut attributes = Vec::new();
                    for attribute in tag.attributes() {
                        let attribute =
                            attribute.map_err(|e| format!("{e} in <{name}> at {from}"))?;
                        let value = attribute
                            .unescape_value()
                            .map_err(|e| format!("{e} in <{name}> at {from}"))?;
                        attributes.push((
                            String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
                            value.into_owned(),
                        ));
                    }
                    let parent = stack.last().copied();
                    let id = doc.push(Node::Element {
                        name,
                        attributes,
                        children: Vec::new(),
                        parent,
                        source: Some(Tags {
                            start: raw.to_string(),
                            end: None,
                        }),
                    });
                    doc.attach(parent, id);
                    if !empty {
                        stack.push(id);
                    }
                }
                Event::End(_) => {
                    let open = stack.pop().ok_or(format!("unexpected {raw} at {from}"))?;
                    if let Node::Element {
                        source: Some(tags), ..
                    } = &mut doc.nodes[open]
                    {
                        tags.end = Some(raw.to_string());
                    }
                }
                _ => {
                    let id = doc.push(Node::Raw(raw.to_string()));
                    doc.attach(stack.last().copied(), id);
                }
            }
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

    /// Marks element `id` as changed: its tags are written anew.
    fn changed(&mut self, id: usize) {
        if let Node::Element { source, .. } = &mut self.nodes[id] {
            *source = None;
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
                source,
                ..
            } => match source {
                Some(tags) if tags.end.is_some() || children.is_empty() => {
                    out.push_str(&tags.start);
                    for c in children {
                        self.render_node(*c, out);
                    }
                    if let Some(end) = &tags.end {
                        out.push_str(end);
                    }
                }
                _ => {
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
            },
        }
    }
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
        let Some(n) = self.node else {
            return;
        };
        let mut doc = self.doc.borrow_mut();
        if let Node::Element { attributes, .. } = &mut doc.nodes[n] {
            match attributes.iter_mut().find(|(k, _)| k == name) {
                Some(slot) if slot.1 == value => return,
                Some(slot) => slot.1 = value.to_string(),
                None => attributes.push((name.to_string(), value.to_string())),
            }
        }
        doc.changed(n);
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
            source: None,
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

    #[test]
    fn what_is_not_changed_is_written_back_as_it_was_read() {
        let text = "<?xml version='1.0'?>\r\n<configuration>\n\t<appSettings>\n\t\t<add   key='A'  value=\"a > b &#x41;&#66; &lt;c&gt;\"/>\n\t\t<add key=\"B\" value=\"x\"></add>\n\t</appSettings>\n\t<note><![CDATA[<not a tag> & not an entity]]> &amp; &#169; text</note>\n</configuration>\n";
        let doc = XmlRef::document(Document::parse(text).unwrap());
        assert_eq!(doc.outer_document(), text);
        let settings = doc.select_single("/configuration/appSettings").unwrap();
        let adds = settings.children_named("add");
        assert_eq!(
            adds[0].attribute("value").as_deref(),
            Some("a > b AB <c>"),
            "character references and > in values"
        );
        // Setting a value to what it already is changes nothing.
        adds[1].set_attribute("value", "x");
        assert_eq!(doc.outer_document(), text);
        // Changing one element rewrites its tag only.
        adds[1].set_attribute("value", "y & z");
        let changed = doc.outer_document();
        assert_eq!(
            changed,
            text.replace(
                "<add key=\"B\" value=\"x\"></add>",
                "<add key=\"B\" value=\"y &amp; z\" />"
            )
        );
        assert_eq!(Document::parse(&changed).unwrap().render(), changed);
    }
}
