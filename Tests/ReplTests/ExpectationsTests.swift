import Foundation
import RuleLang
import Testing
import VM

@testable import Repl

/// Expectations files: what they accept, what they refuse (with the key and place), and the
/// differences they find.
@Suite struct ExpectationsTests {
  func decode(_ json: String) throws -> Expectations {
    try JSONDecoder().decode(Expectations.self, from: Data(json.utf8))
  }

  func decodingError(_ json: String) -> String {
    do {
      _ = try decode(json)
      Issue.record("decoded: \(json)")
      return ""
    } catch let e as DecodingError {
      if case .dataCorrupted(let c) = e { return c.debugDescription }
      return "\(e)"
    } catch {
      return "\(error)"
    }
  }

  @Test func readsEveryKey() throws {
    let e = try decode(
      """
      {"expect": [{"frame": 1, "rule": "a", "route": "w", "drop": false, "verdict": "route",
                   "set": {"labels.n": 5, "HTTP.headers.id": "1"}}]}
      """)
    #expect(e.expect.count == 1)
    let x = e.expect[0]
    #expect(x.frame == 1 && x.rule == "a" && x.route == "w" && x.drop == false)
    #expect(x.verdict == .route)
    #expect(x.set?["labels.n"] == .int(5) && x.set?["HTTP.headers.id"] == .text("1"))
  }

  @Test func refusesMistakes() {
    #expect(
      decodingError(#"{"expect": [{"frame": 1, "rlue": "a"}]}"#)
        .contains("unknown key 'rlue' in expect[0]; did you mean 'rule'?"))
    #expect(decodingError(#"{"expects": []}"#).contains("unknown key 'expects' in the document"))
    #expect(
      decodingError(#"{"expect": [{"frame": 1, "verdict": "routed"}]}"#)
        .contains(
          "unknown verdict 'routed'; expected one of route, drop, no-match, undecodable, no-rulelist"
        ))
    #expect(
      decodingError(#"{"expect": [{"frame": 0, "drop": true}]}"#).contains(
        "frame numbers start at 1"))
    #expect(decodingError(#"{"expect": [{"frame": 2}]}"#).contains("checks nothing"))
  }

  static let rules = """
    rulelist l for UDP {
      rule tagged when UDP.dst_port == 7000 {
        set labels.n = u8(payload, 0)
        route to media
      }
      rule rest when UDP.dst_port == 53 { drop }
    }
    """

  func outcomes() throws -> ([FrameOutcome], CompiledRules) {
    let compiled = try #require(CompiledRules.build(SourceFile(name: "t", text: Self.rules)).rules)
    typealias F = FrameDecoderTests
    let frames = [
      F.ethernet(0x0800, F.ipv4(1, 2, proto: 17, F.udp(1, 7000, [9]))),
      F.ethernet(0x0800, F.ipv4(1, 2, proto: 17, F.udp(1, 53, [9]))),
      F.ethernet(0x0800, F.ipv4(1, 2, proto: 17, F.udp(1, 80, [9]))),
      F.ethernet(0x0806, [UInt8](repeating: 0, count: 28)),
      F.ethernet(0x0800, F.ipv4(1, 2, proto: 6, F.tcp(1, 80, []))),
    ]
    let path = CaptureFiles.pcap("e.pcap", dlt: 1, frames.map { CaptureFiles.Frame($0) })
    let capture = try Capture.read(path)
    return (CaptureRun.run(capture, compiled, rulelist: nil), compiled)
  }

  @Test func allHold() throws {
    let (o, rules) = try outcomes()
    let e = try decode(
      """
      {"expect": [
        {"frame": 1, "rule": "tagged", "route": "media", "drop": false, "verdict": "route", "set": {"labels.n": 9}},
        {"frame": 2, "rule": "rest", "drop": true, "verdict": "drop"},
        {"frame": 3, "drop": true, "verdict": "no-match"},
        {"frame": 4, "verdict": "undecodable"},
        {"frame": 5, "verdict": "no-rulelist"}
      ]}
      """)
    #expect(e.check(o, rules).map(\.description) == [])
  }

  @Test func eachDifferenceIsReported() throws {
    let (o, rules) = try outcomes()
    let e = try decode(
      """
      {"expect": [
        {"frame": 1, "rule": "rest", "set": {"labels.n": 8, "labels.m": 1}},
        {"frame": 2, "route": "media"},
        {"frame": 3, "drop": false},
        {"frame": 4, "drop": true},
        {"frame": 5, "rule": "tagd"},
        {"frame": 9, "drop": true}
      ]}
      """)
    let d = e.check(o, rules).map(\.description)
    #expect(
      d == [
        "frame 1: expected rule 'rest', got rule 'tagged' → route to media",
        "frame 1: expected set labels.m = 1, but nothing set it (rule 'tagged' → route to media)",
        "frame 1: expected set labels.n = 8, got labels.n = 9",
        "frame 2: expected route to media, got rule 'rest' → drop",
        "frame 3: expected not to be dropped, got drop (no rule matched)",
        "frame 4: expected drop, got undecodable: not IP (ethertype 0x0806, ARP)",
        "frame 5: expected rule 'tagd' (the rules have no rule named 'tagd'), got not run: the rules have no TCP rulelist",
        "frame 9: no such frame; the capture has 5",
      ], "\(d)")
  }
}
