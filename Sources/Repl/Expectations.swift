import RuleLang
import VM

/// What a capture's frames should get from the rules (`l7mp test --expect FILE`), read from YAML
/// or JSON:
///
///     {"expect": [
///       {"frame": 1, "rule": "from-gateway", "route": "worker", "set": {"HTTP.headers.id": "1"}},
///       {"frame": 4, "drop": true},
///       {"frame": 5, "verdict": "undecodable"}
///     ]}
///
/// Frames not listed are not checked. docs/testing.md describes every key.
public struct Expectations: Decodable, Sendable {
  public var expect: [Expectation]

  public init(expect: [Expectation]) { self.expect = expect }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    try AnyKey.refuseUnknown(c, known: ["expect"], in: "the document")
    expect = try c.decode([Expectation].self, forKey: AnyKey("expect"))
  }
}

/// The expected outcome of one frame; every key given is checked.
public struct Expectation: Decodable, Sendable {
  public var frame: Int
  /// The name of the rule that decides.
  public var rule: String?
  /// The route's destination (the frame is routed).
  public var route: String?
  /// true: dropped (by a `drop` rule or because no rule matched); false: not dropped.
  public var drop: Bool?
  /// The exact kind of outcome.
  public var verdict: FrameOutcome.Kind?
  /// Metadata the matching rule's `set`s write: path → value (a number, or text; an address as
  /// text).
  public var set: [String: ExpectedValue]?

  public init(
    frame: Int, rule: String? = nil, route: String? = nil, drop: Bool? = nil,
    verdict: FrameOutcome.Kind? = nil, set: [String: ExpectedValue]? = nil
  ) {
    self.frame = frame
    self.rule = rule
    self.route = route
    self.drop = drop
    self.verdict = verdict
    self.set = set
  }

  static let keys = ["frame", "rule", "route", "drop", "verdict", "set"]

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let at = AnyKey.describe(decoder.codingPath)
    try AnyKey.refuseUnknown(c, known: Self.keys, in: at)
    frame = try c.decode(Int.self, forKey: AnyKey("frame"))
    rule = try c.decodeIfPresent(String.self, forKey: AnyKey("rule"))
    route = try c.decodeIfPresent(String.self, forKey: AnyKey("route"))
    drop = try c.decodeIfPresent(Bool.self, forKey: AnyKey("drop"))
    if c.contains(AnyKey("verdict")) {
      let text = try c.decode(String.self, forKey: AnyKey("verdict"))
      guard let kind = FrameOutcome.Kind(rawValue: text) else {
        let valid = FrameOutcome.Kind.allCases.map(\.rawValue).joined(separator: ", ")
        throw DecodingError.dataCorruptedError(
          forKey: AnyKey("verdict"), in: c,
          debugDescription: "unknown verdict '\(text)'; expected one of \(valid)")
      }
      verdict = kind
    }
    set = try c.decodeIfPresent([String: ExpectedValue].self, forKey: AnyKey("set"))
    if frame < 1 {
      throw DecodingError.dataCorruptedError(
        forKey: AnyKey("frame"), in: c,
        debugDescription: "frame numbers start at 1 (as in Wireshark and tcpdump), found \(frame)")
    }
    if rule == nil, route == nil, drop == nil, verdict == nil, set == nil {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription:
            "the expectation for frame \(frame) checks nothing; give rule, route, drop, verdict or set"
        ))
    }
  }
}

/// An expected metadata value: a number or text.
public enum ExpectedValue: Decodable, Sendable, Hashable, CustomStringConvertible {
  case int(Int64)
  case text(String)

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let i = try? c.decode(Int64.self) {
      self = .int(i)
    } else if let s = try? c.decode(String.self) {
      self = .text(s)
    } else {
      throw DecodingError.typeMismatch(
        String.self,
        .init(codingPath: decoder.codingPath, debugDescription: "expected a number or a string"))
    }
  }

  /// Whether a rewrite's value is this one: numbers as numbers, text as the bytes' UTF-8 text or
  /// an address's text.
  public func matches(_ v: OwnedPacket.Value) -> Bool {
    switch (self, v) {
    case (.int(let a), .int(let b)): return a == b
    case (.text(let s), .bytes(let b)): return Array(s.utf8) == b
    case (.text(let s), .ip(let a)): return (try? IPAddress.parse(s).get()) == a
    case (.int(let a), .bytes(let b)): return Array(String(a).utf8) == b
    case (.text(let s), .int(let b)): return s == String(b)
    default: return false
    }
  }

  public var description: String {
    switch self {
    case .int(let i): return String(i)
    case .text(let s): return Value.quote(s)
    }
  }
}

/// One expectation that does not hold.
public struct ExpectationDifference: Sendable, CustomStringConvertible {
  public let frame: Int
  public let message: String
  public var description: String { "frame \(frame): \(message)" }
}

extension Expectations {
  /// Every difference between these expectations and the outcomes, in the order listed.
  public func check(_ outcomes: [FrameOutcome], _ rules: CompiledRules) -> [ExpectationDifference] {
    var out: [ExpectationDifference] = []
    let ruleNames = Set(rules.program.rules.map(\.name))
    for e in expect {
      func differ(_ m: String) { out.append(ExpectationDifference(frame: e.frame, message: m)) }
      guard e.frame <= outcomes.count else {
        differ("no such frame; the capture has \(outcomes.count)")
        continue
      }
      let o = outcomes[e.frame - 1]
      let got = o.summary(in: rules)
      let kind = o.kind(in: rules)
      if let want = e.verdict, want != kind {
        differ("expected verdict \(want.rawValue), got \(kind.rawValue): \(got)")
      }
      if let want = e.rule, want != o.ruleName(in: rules) {
        let unknown = ruleNames.contains(want) ? "" : " (the rules have no rule named '\(want)')"
        differ("expected rule '\(want)'\(unknown), got \(got)")
      }
      if let want = e.route, want != o.destination(in: rules) {
        differ("expected route to \(want), got \(got)")
      }
      if let want = e.drop {
        let dropped = kind == .drop || kind == .noMatch
        if want != dropped {
          differ(want ? "expected drop, got \(got)" : "expected not to be dropped, got \(got)")
        }
      }
      for (path, want) in (e.set ?? [:]).sorted(by: { $0.key < $1.key }) {
        guard case .evaluated(let v) = o.result else {
          differ("expected set \(path) = \(want), got \(got)")
          continue
        }
        let latest = v.rewrites.last { $0.path == path }
        guard let latest else {
          differ("expected set \(path) = \(want), but nothing set it (\(got))")
          continue
        }
        if !want.matches(latest.value) {
          differ(
            "expected set \(path) = \(want), got \(path) = \(PacketLiteral.formatValue(latest.value))"
          )
        }
      }
    }
    return out
  }
}

/// A coding key for any name, to refuse keys that are not known (a misspelt key must not be
/// silently ignored).
struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int?
  init(_ s: String) { stringValue = s }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) {
    stringValue = String(intValue)
    self.intValue = intValue
  }

  static func refuseUnknown(
    _ c: KeyedDecodingContainer<AnyKey>, known: [String], in place: String
  ) throws {
    for key in c.allKeys where !known.contains(key.stringValue) {
      let hint = Spelling.closest(to: key.stringValue, in: known).first.map {
        "did you mean '\($0)'? "
      }
      throw DecodingError.dataCorruptedError(
        forKey: key, in: c,
        debugDescription:
          "unknown key '\(key.stringValue)' in \(place); \(hint ?? "")known keys: \(known.joined(separator: ", "))"
      )
    }
  }

  static func describe(_ path: [any CodingKey]) -> String {
    let s = path.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    return s.isEmpty ? "the document" : String(s.drop { $0 == "." })
  }
}
