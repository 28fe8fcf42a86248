"""XMP packets read and edited as XML, independently of exiv2.

exiv2's XMP toolkit gives up on packets other programs write every day (a property repeated by
Capture One or an Olympus camera, one byte that is not UTF-8, a DOCTYPE) and hands back an empty
view, which a writer would then take for "no XMP". Here a packet is parsed with the standard
library's expat, refusing any DTD (so no entity is ever expanded), into a DOM that keeps every
node, prefix and namespace declaration; an edit touches only the properties it names, and the
packet is written back node for node.

- `parse(data)` -> the document, or XmpError saying why the packet cannot be read;
- `properties(doc)` -> every property value as a (path, value) leaf, to compare a packet before
  and after a write: paths use namespace URIs, so a change of prefix is no change;
- `lang_alt` / `choose` read a language alternative (x-default, then English, then the first);
- `set_lang_alt`, `replace_in_lang_alt`, `set_simple` edit; `serialize` writes the packet back.
"""

from __future__ import annotations

import collections
import hashlib
from xml.dom import Node, minidom
from xml.parsers import expat

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
XMLNS = "http://www.w3.org/2000/xmlns/"
DC = "http://purl.org/dc/elements/1.1/"
EXIF = "http://ns.adobe.com/exif/1.0/"
TIFF = "http://ns.adobe.com/tiff/1.0/"
VISIONCAP = "http://ns.visioncap.org/xmp/1.0/"
LIGHTROOM = "http://ns.adobe.com/lightroom/1.0/"
PREFIXES = {RDF: "rdf", DC: "dc", EXIF: "exif", TIFF: "tiff", VISIONCAP: "visioncap", LIGHTROOM: "lr",
            "adobe:ns:meta/": "x"}
ARRAYS = ("Bag", "Seq", "Alt")
NEW_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
)

Leaf = tuple[tuple[str, ...], str]


class XmpError(ValueError):
    """The packet cannot be read as XMP; the message says why, in a few words."""


def _refuse_dtd(*_args) -> None:
    raise XmpError("it declares a DTD (DOCTYPE), which XMP does not allow")


def parse(data: bytes | str) -> minidom.Document:
    """The packet's DOM. Raises XmpError for a DOCTYPE or entity declaration (refused before
    anything is expanded), XML that is not well-formed (bad UTF-8 included), or no rdf:RDF."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = data.rstrip(b"\0 \t\r\n")  # JPEG segments and TIFF tags are often NUL-padded
    guard = expat.ParserCreate()
    guard.StartDoctypeDeclHandler = _refuse_dtd
    guard.EntityDeclHandler = _refuse_dtd
    try:
        guard.Parse(data, True)
        doc = minidom.parseString(data)
    except expat.ExpatError as exc:
        raise XmpError(f"not well-formed XML ({expat.errors.messages.get(exc.code, exc)} at line {exc.lineno}, "
                       f"column {exc.offset})") from None
    if not doc.getElementsByTagNameNS(RDF, "RDF"):
        raise XmpError("no rdf:RDF element")
    return doc


def new_packet() -> minidom.Document:
    return parse(NEW_PACKET)


# ---- reading --------------------------------------------------------------------------------


def _elements(node) -> list:
    return [c for c in node.childNodes if c.nodeType == Node.ELEMENT_NODE]


def _text(node) -> str:
    return "".join(c.data for c in node.childNodes if c.nodeType in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE))


def _name(node) -> str:
    return f"{{{node.namespaceURI or ''}}}{node.localName}"


def _is_rdf(node, local: str) -> bool:
    return node.namespaceURI == RDF and node.localName == local


def _field_attributes(node) -> list:
    """Attributes that are properties (or struct fields): not rdf:*, xml:* or xmlns."""
    return [a for a in node.attributes.values() if a.namespaceURI not in (RDF, XML, XMLNS) and a.name != "xmlns"]


def descriptions(doc) -> list:
    return doc.getElementsByTagNameNS(RDF, "Description")


def _top_descriptions(doc) -> list:
    """The rdf:Description elements directly under rdf:RDF (others are struct values)."""
    return [d for d in descriptions(doc) if d.parentNode is not None and _is_rdf(d.parentNode, "RDF")]


def _value_leaves(node, path: tuple[str, ...], out: list[Leaf]) -> None:
    """The leaves of a property element (or an rdf:li, which behaves like one)."""
    lang = node.getAttributeNS(XML, "lang") if node.hasAttributeNS(XML, "lang") else None
    if lang is not None:
        path = (*path, f"@lang={lang.lower()}")
    if node.hasAttributeNS(RDF, "resource"):
        out.append((path, "uri:" + node.getAttributeNS(RDF, "resource")))
        return
    children = _elements(node)
    if node.getAttributeNS(RDF, "parseType") == "Resource":
        _struct_leaves(node, path, out)
        return
    if not children:
        fields = _field_attributes(node)
        if fields:  # an empty property element with attributes: a struct in shorthand
            _struct_leaves(node, path, out)
        else:
            out.append((path, _text(node)))
        return
    for child in children:
        if child.namespaceURI == RDF and child.localName in ARRAYS:
            items = [li for li in _elements(child) if _is_rdf(li, "li")]
            for index, item in enumerate(items):
                key = f"{child.localName}[{index}]"
                if child.localName == "Alt" and item.hasAttributeNS(XML, "lang"):
                    key = f"Alt[lang={item.getAttributeNS(XML, 'lang').lower()}]"
                _value_leaves(item, (*path, key), out)
        elif _is_rdf(child, "Description"):
            _struct_leaves(child, path, out)
        else:
            _value_leaves(child, (*path, _name(child)), out)


def _struct_leaves(node, path: tuple[str, ...], out: list[Leaf]) -> None:
    for attr in _field_attributes(node):
        out.append(((*path, _name(attr)), attr.value))
    for child in _elements(node):
        _value_leaves(child, (*path, _name(child)), out)


def properties(doc) -> collections.Counter[Leaf]:
    """Every value in the packet as ((property path...), value) leaves, counted (a repeated
    property counts twice). rdf:about values are leaves too."""
    out: list[Leaf] = []
    for description in _top_descriptions(doc):
        if description.hasAttributeNS(RDF, "about"):
            out.append((("rdf:about",), description.getAttributeNS(RDF, "about")))
        _struct_leaves(description, (), out)
    return collections.Counter(out)


def _find(doc, ns: str, name: str) -> list:
    """The property `ns:name` wherever it is: elements and shorthand attributes of each
    top-level rdf:Description."""
    found = []
    for description in _top_descriptions(doc):
        if description.hasAttributeNS(ns, name):
            found.append(description.getAttributeNodeNS(ns, name))
        found.extend(c for c in _elements(description) if c.namespaceURI == ns and c.localName == name)
    return found


def _alt_items(prop) -> list:
    """The rdf:li items of a property holding rdf:Alt (or Bag/Seq), else []."""
    for child in _elements(prop):
        if child.namespaceURI == RDF and child.localName in ARRAYS:
            return [li for li in _elements(child) if _is_rdf(li, "li")]
    return []


def lang_alt(doc, ns: str, name: str) -> dict[str, str] | None:
    """language -> text of a language alternative (a simple value counts as x-default); None
    when the property is absent."""
    found = _find(doc, ns, name)
    if not found:
        return None
    prop = found[0]
    if prop.nodeType == Node.ATTRIBUTE_NODE:
        return {"x-default": prop.value}
    items = _alt_items(prop)
    if not items:
        return {"x-default": _text(prop)}
    return {(li.getAttributeNS(XML, "lang") or "x-default"): _text(li) for li in items}


def choose(alternatives: dict[str, str] | None) -> str | None:
    """x-default, else English (`en`, then any `en-*`), else the first."""
    if not alternatives:
        return None
    lowered = {lang.lower(): text for lang, text in alternatives.items()}
    for lang in ("x-default", "en"):
        if lang in lowered:
            return lowered[lang]
    english = [text for lang, text in lowered.items() if lang.startswith("en-")]
    return english[0] if english else next(iter(alternatives.values()))


def bag(doc, ns: str, name: str) -> list[str] | None:
    """The items of an array property (a simple value counts as one item); None when absent."""
    found = _find(doc, ns, name)
    if not found:
        return None
    prop = found[0]
    if prop.nodeType == Node.ATTRIBUTE_NODE:
        return [prop.value]
    items = _alt_items(prop)
    return [_text(li) for li in items] if items else [_text(prop)]


def add_to_bag(doc, ns: str, name: str, values: list[str], create: bool = True) -> list[str]:
    """Append to the array `ns:name` each of `values` it does not hold yet (creating an
    rdf:Bag when absent and `create`); returns the values added. An array written as a simple
    value is left alone (nothing added)."""
    found = _find(doc, ns, name)
    if not found:
        if not create or not values:
            return []
        description = _target_description(doc)
        prop = doc.createElementNS(ns, f"{_qualified(description, ns)}:{name}")
        prop.appendChild(doc.createElementNS(RDF, f"{_qualified(description, RDF)}:Bag"))
        _insert(description, prop)
        found = [prop]
    prop = found[0]
    container = next((c for c in _elements(prop) if c.namespaceURI == RDF and c.localName in ARRAYS), None) \
        if prop.nodeType == Node.ELEMENT_NODE else None
    if container is None:
        return []
    have = {_text(li) for li in _elements(container) if _is_rdf(li, "li")}
    added = []
    for value in values:
        if value in have or value in added:
            continue
        li = doc.createElementNS(RDF, f"{_qualified(container, RDF)}:li")
        _set_text(li, value)
        container.appendChild(li)
        added.append(value)
    return added


def simple(doc, ns: str, name: str) -> str | None:
    found = _find(doc, ns, name)
    if not found:
        return None
    return found[0].value if found[0].nodeType == Node.ATTRIBUTE_NODE else _text(found[0])


# ---- editing --------------------------------------------------------------------------------


def _set_text(node, text: str) -> None:
    for child in list(node.childNodes):
        node.removeChild(child)
    if text:
        node.appendChild(node.ownerDocument.createTextNode(text))


def _prefix_in_scope(node, ns: str) -> str | None:
    while node is not None and node.nodeType == Node.ELEMENT_NODE:
        for attr in node.attributes.values():
            if attr.namespaceURI == XMLNS and attr.value == ns and attr.prefix == "xmlns":
                return attr.localName
        node = node.parentNode
    return None


def _bound_prefixes(node) -> set[str]:
    bound: set[str] = set()
    while node is not None and node.nodeType == Node.ELEMENT_NODE:
        bound.update(a.localName for a in node.attributes.values() if a.prefix == "xmlns")
        node = node.parentNode
    return bound


def _qualified(description, ns: str) -> str:
    """A prefix for `ns` at `description`, declaring one there when none is in scope."""
    prefix = _prefix_in_scope(description, ns)
    if prefix is None:
        base = PREFIXES.get(ns, "ns")
        bound, prefix, n = _bound_prefixes(description), base, 1
        while prefix in bound:
            prefix, n = f"{base}{n}", n + 1
        description.setAttributeNS(XMLNS, f"xmlns:{prefix}", ns)
    return prefix


def _insert(description, element) -> None:
    """Append `element` to `description`, indented like its other properties."""
    doc = description.ownerDocument
    if description.hasChildNodes() and description.firstChild.nodeType == Node.TEXT_NODE \
            and not description.firstChild.data.strip():
        indent = description.firstChild.data
        closing = description.lastChild if description.lastChild.nodeType == Node.TEXT_NODE else None
        description.insertBefore(element, closing)
        description.insertBefore(doc.createTextNode(indent), element)
    else:
        description.appendChild(element)


def _target_description(doc):
    found = _top_descriptions(doc)
    if found:
        return found[0]
    rdf = doc.getElementsByTagNameNS(RDF, "RDF")[0]
    description = doc.createElementNS(RDF, f"{_qualified(rdf, RDF)}:Description")
    description.setAttributeNS(RDF, f"{_qualified(rdf, RDF)}:about", "")
    rdf.appendChild(description)
    return description


def _lang_alt_element(description, ns: str, name: str, text: str):
    doc = description.ownerDocument
    prop = doc.createElementNS(ns, f"{_qualified(description, ns)}:{name}")
    rdf = _qualified(description, RDF)
    alt = doc.createElementNS(RDF, f"{rdf}:Alt")
    li = doc.createElementNS(RDF, f"{rdf}:li")
    li.setAttributeNS(XML, "xml:lang", "x-default")
    _set_text(li, text)
    alt.appendChild(li)
    prop.appendChild(alt)
    return prop


def set_lang_alt(doc, ns: str, name: str, text: str, previous: frozenset[str] = frozenset()) -> None:
    """Make `text` the x-default of the language alternative `ns:name` (adding the property or
    the x-default item where missing); other languages stay, except those that held one of
    the `previous` texts, which would otherwise go on showing the old caption."""
    found = _find(doc, ns, name)
    if not found:
        description = _target_description(doc)
        _insert(description, _lang_alt_element(description, ns, name, text))
        return
    prop = found[0]
    if prop.nodeType == Node.ATTRIBUTE_NODE:
        prop.value = text
        return
    items = _alt_items(prop)
    if not items:  # a simple value where an alternative belongs: keep its form
        _set_text(prop, text)
        return
    default = [li for li in items if (li.getAttributeNS(XML, "lang") or "").lower() == "x-default"]
    for li in items:
        if li not in default and _text(li) in previous:
            _set_text(li, text)
    if default:
        _set_text(default[0], text)
    else:
        container = items[0].parentNode
        li = doc.createElementNS(RDF, items[0].tagName)
        li.setAttributeNS(XML, "xml:lang", "x-default")
        _set_text(li, text)
        container.insertBefore(li, items[0])
        if items[0].previousSibling is not li and li.previousSibling is not None \
                and li.previousSibling.nodeType == Node.TEXT_NODE:
            container.insertBefore(doc.createTextNode(li.previousSibling.data), items[0])


def replace_in_lang_alt(doc, ns: str, name: str, text: str, previous: frozenset[str]) -> bool:
    """Where the existing alternative `ns:name` holds one of the `previous` texts (in any
    language), put `text` instead; never adds the property. True if anything changed."""
    changed = False
    for prop in _find(doc, ns, name):
        if prop.nodeType == Node.ATTRIBUTE_NODE:
            if prop.value in previous:
                prop.value, changed = text, True
            continue
        for node in _alt_items(prop) or [prop]:
            if _text(node) in previous and _text(node) != text:
                _set_text(node, text)
                changed = True
    return changed


def set_simple(doc, ns: str, name: str, value: str) -> None:
    found = _find(doc, ns, name)
    if found:
        if found[0].nodeType == Node.ATTRIBUTE_NODE:
            found[0].value = value
        else:
            _set_text(found[0], value)
        return
    description = _target_description(doc)
    description.setAttributeNS(ns, f"{_qualified(description, ns)}:{name}", value)


def remove(doc, ns: str, name: str) -> None:
    """Remove the property `ns:name` wherever it is (attribute or element)."""
    for prop in _find(doc, ns, name):
        if prop.nodeType == Node.ATTRIBUTE_NODE:
            prop.ownerElement.removeAttributeNode(prop)
        else:
            prop.parentNode.removeChild(prop)


def caption_digest(text: str) -> str:
    """What VisionCap stores beside a description it wrote (visioncap:DescriptionDigest): a
    later reader tells VisionCap's own caption from one a person or program put there since."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# ---- writing back ---------------------------------------------------------------------------

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;",
                               "\r": "&#xD;"})


def _write(node, out: list[str]) -> None:
    kind = node.nodeType
    if kind == Node.ELEMENT_NODE:
        out.append("<" + node.tagName)
        for name, value in node.attributes.items():
            out.append(f' {name}="{value.translate(_ATTR_ESCAPES)}"')
        if not node.hasChildNodes():
            out.append("/>")
            return
        out.append(">")
        for child in node.childNodes:
            _write(child, out)
        out.append(f"</{node.tagName}>")
    elif kind == Node.TEXT_NODE:
        out.append(node.data.translate(_TEXT_ESCAPES))
    elif kind == Node.CDATA_SECTION_NODE:
        out.append(f"<![CDATA[{node.data}]]>")
    elif kind == Node.COMMENT_NODE:
        out.append(f"<!--{node.data}-->")
    elif kind == Node.PROCESSING_INSTRUCTION_NODE:
        out.append(f"<?{node.target} {node.data}?>" if node.data else f"<?{node.target}?>")


def serialize(doc) -> bytes:
    """The packet as UTF-8: every node as it was parsed, the edits included."""
    parts: list[str] = []
    for child in doc.childNodes:
        if parts:
            parts.append("\n")
        _write(child, parts)
    return "".join(parts).encode("utf-8")
