import Foundation
import Testing

/// `l7mp repl` as the real binary, scripted through a pipe. (The terminal side — editing,
/// history, completion, Ctrl-C — has no automated test yet.)
@Suite struct ReplCommandTests {
  static let rules = CLI.repo("examples/gateway.rules")
  static let capture = CLI.repo("examples/captures/gateway.pcap")

  @Test func pipedSessionHasNoPromptAndTheSameResults() throws {
    let script = """
      :packets rule sip
      :packet 3
      payload[0] & 0xc0
      :frobnicate
      :trace 2
      rule dns when UDP.dst_port == 53 {
        route to resolver
      }
      :packet 4
      :quit
      :packets
      """
    let r = try CLI.run(
      ["repl", Self.rules, "--pcap", Self.capture, "--history", ""], stdin: script)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stdout.contains("l7mp>"), "\(r.stdout)")
    #expect(r.stdout.contains("loaded \(Self.rules): 4 rules in 1 rulelist: my-udp-endpoint (UDP)"))
    #expect(
      r.stdout.contains(
        "loaded \(Self.capture): 10 frames (pcap, ethernet), 7 decoded, 3 undecodable"))
    #expect(r.stdout.contains("128 : int?\n"), "\(r.stdout)")
    #expect(r.stdout.contains("error: unknown command ':frobnicate'"))
    // After the error, the session went on.
    #expect(r.stdout.contains("✓ rule sip (line 11)"))
    #expect(r.stdout.contains("added rule dns at the end of rulelist my-udp-endpoint"))
    #expect(r.stdout.contains("verdict: rule everything-else"))
    // Nothing after :quit ran: the table of :packets appears once (from the first line).
    #expect(r.stdout.components(separatedBy: "frame  time").count == 2)
  }

  @Test func pipedInputEndingInsideADefinition() throws {
    let r = try CLI.run(["repl", "--history", ""], stdin: "rule open when true {\n")
    #expect(r.status == 0)
    #expect(r.stdout.contains("error: the input ended inside a definition"))
  }
}
