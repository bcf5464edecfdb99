import Config
import RuleLang

/// Rule source under construction, remembering for every piece of text the manifest node it came
/// from, so that a rule-language diagnostic can be reported at that node.
struct RuleSourceWriter {
  private(set) var text = ""
  private var length = 0
  /// Byte ranges of `text` and the manifest node each was written for.
  private var spans: [(range: Range<Int>, origin: ManifestLocation)] = []

  mutating func write(_ s: String) {
    text += s
    length += s.utf8.count
  }

  /// Writes what `body` writes, attributed to `origin` (inner attributions are more precise).
  mutating func from(_ origin: ManifestLocation, _ body: (inout RuleSourceWriter) -> Void) {
    let start = length
    body(&self)
    spans.append((start..<max(length, start + 1), origin))
  }

  /// The innermost manifest node the text at `offset` was written for.
  func origin(of offset: Int) -> ManifestLocation? {
    spans.filter { $0.range.contains(offset) }.min { $0.range.count < $1.range.count }?.origin
  }
}

/// Rule-language spellings of values and names.
enum RuleSyntax {
  /// A string literal, escaped (the rule language's own quoting).
  static func quoted(_ s: String) -> String { Value.quote(s) }

  /// `[A-Za-z_][A-Za-z0-9_]*` joined by `-`: what a name part may be.
  static func isNamePart(_ s: Substring) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || isLetter(first) else { return false }
    return s.unicodeScalars.allSatisfy(isNameCharacter)
  }

  static func isLetter(_ u: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(u) || ("A"..."Z").contains(u)
  }

  /// Whether `s` can be written as a rule, rulelist or target name: what the rule language's
  /// lexer reads as one name (a letter or '_' first; parts of letters, digits and '_' joined by
  /// '-' or '.', so Kubernetes names such as `listener-0` are names).
  static func isName(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || isLetter(first) else { return false }
    return s.split(omittingEmptySubsequences: false) { $0 == "-" || $0 == "." }.allSatisfy {
      !$0.isEmpty && $0.unicodeScalars.allSatisfy(isNameCharacter)
    }
  }

  static func isNameCharacter(_ u: Unicode.Scalar) -> Bool {
    u == "_" || isLetter(u) || ("0"..."9").contains(u)
  }

  /// l7mp's metadata path (`/IP/src_addr`, `HTTP/headers/x-id`, a JSON pointer) as a rule-language
  /// path (`IP.src_addr`, `HTTP.headers.x-id`, `HTTP.headers["x y"]`); nil with a reason if it
  /// cannot be one.
  static func metadataPath(_ pointer: String) -> Result<String, PathError> {
    var p = Substring(pointer)
    if p.hasPrefix("/") { p = p.dropFirst() }
    let escaped = p.utf8.contains(UInt8(ascii: "~"))
    let segments = p.split(separator: "/", omittingEmptySubsequences: false).map {
      escaped
        ? $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        : String($0)
    }
    guard !p.isEmpty, !segments.contains(where: \.isEmpty) else {
      return .failure(
        PathError(message: "'\(pointer)' is not a metadata path such as /IP/src_addr"))
    }
    guard isNamePart(Substring(segments[0])) else {
      return .failure(PathError(message: "'\(segments[0])' cannot start a metadata path"))
    }
    var out = segments[0]
    var bracketed = false
    for s in segments.dropFirst() {
      let plain = s.split(separator: "-", omittingEmptySubsequences: false).allSatisfy(isNamePart)
      if plain && !bracketed {
        out += "." + s
      } else {
        bracketed = true
        out += "[" + quoted(s) + "]"
      }
    }
    return .success(out)
  }

  struct PathError: Error {
    let message: String
  }
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    guard contains(target) else { return self }
    return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
