import Foundation

/// Writes node trees and `Encodable` values as block-style YAML that `YAMLReader` reads back to the
/// same values: strings are plain only where the core schema would read them as strings, multi-line
/// strings are literal blocks (`|`), everything else is double-quoted.
public enum YAMLWriter {
  /// `value` as YAML, keys sorted (through its JSON encoding, so it matches the JSON output).
  public static func encode<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = try encoder.encode(value)
    return write(try YAMLReader.document(Array(json), name: "encoded value"))
  }

  public static func write(_ node: YAMLNode) -> String {
    var out = ""
    emit(node, indent: 0, into: &out, inline: false)
    return out
  }

  private static func emit(_ node: YAMLNode, indent: Int, into out: inout String, inline: Bool) {
    let pad = String(repeating: " ", count: indent)
    switch node.content {
    case .scalar(let s):
      out += scalar(s, indent: indent) + "\n"
    case .sequence(let items) where items.isEmpty:
      out += "[]\n"
    case .mapping(let pairs) where pairs.isEmpty:
      out += "{}\n"
    case .sequence(let items):
      if inline { out += "\n" }
      for item in items {
        out += pad + "- "
        if item.mapping?.isEmpty == false {
          emitPairs(item.mapping ?? [], indent: indent + 2, into: &out, firstInline: true)
        } else {
          emit(item, indent: indent + 2, into: &out, inline: true)
        }
      }
    case .mapping(let pairs):
      if inline { out += "\n" }
      emitPairs(pairs, indent: indent, into: &out, firstInline: false)
    }
  }

  private static func emitPairs(
    _ pairs: [YAMLPair], indent: Int, into out: inout String, firstInline: Bool
  ) {
    let pad = String(repeating: " ", count: indent)
    for (i, p) in pairs.enumerated() {
      if i > 0 || !firstInline { out += pad }
      let key =
        p.key.scalar.map { k in
          isPlainSafe(k.text) || k.string == nil ? scalar(k, indent: 0) : quoted(k.text)
        } ?? "\"?\""
      out += key + ":"
      switch p.value.content {
      case .scalar(let s):
        out += " " + scalar(s, indent: indent + 2) + "\n"
      case .sequence(let items) where !items.isEmpty:
        // Lists under a key sit at the key's indentation, as kubectl writes them.
        out += "\n"
        emit(p.value, indent: indent, into: &out, inline: false)
      case .mapping(let m) where !m.isEmpty:
        out += "\n"
        emit(p.value, indent: indent + 2, into: &out, inline: false)
      default:
        out += " "
        emit(p.value, indent: indent + 2, into: &out, inline: true)
      }
    }
  }

  private static func scalar(_ s: YAMLScalar, indent: Int) -> String {
    switch s.value {
    case .null: return "null"
    case .bool(let b): return String(b)
    case .int(let i): return String(i)
    case .float(let d):
      if d.isNaN { return ".nan" }
      if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
      let text = String(d)
      return YAMLScalar.isFloat(text) ? text : text + ".0"
    case .string(let text):
      if isPlainSafe(text) { return text }
      if text.contains("\n"), text.hasSuffix("\n"), !text.hasSuffix("\n\n"), !text.hasPrefix(" "),
        text.unicodeScalars.allSatisfy({ $0 == "\n" || ($0.value >= 0x20 && $0.value != 0x7F) }),
        !text.split(separator: "\n", omittingEmptySubsequences: false).contains(where: {
          $0.hasSuffix(" ")
        })
      {
        let pad = String(repeating: " ", count: indent)
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        return "|\n" + lines.map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
      }
      return quoted(text)
    }
  }

  /// Printable ASCII that the core schema reads back as this string, with no indicator at the
  /// start and no `: ` or ` #` inside.
  private static func isPlainSafe(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
      case .string = YAMLScalar.resolvePlain(text)
    else { return false }
    let indicators: Set<Unicode.Scalar> = [
      "-", "?", ":", ",", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", "\"", "%", "@",
      "`", " ",
    ]
    return !indicators.contains(first) && last != " " && last != ":" && !text.contains(": ")
      && !text.contains(" #")
      && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
  }

  private static func quoted(_ text: String) -> String {
    var out = "\""
    for u in text.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if u.value < 0x20 || u.value == 0x7F {
          out += String(format: "\\x%02x", u.value)
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }
}
