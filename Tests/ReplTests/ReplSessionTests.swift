import Foundation
import RuleLang
import Testing
import VM

@testable import Repl

/// The REPL's interpreter, a line at a time, on the gateway rules and a capture written here.
@Suite struct ReplSessionTests {
  typealias F = FrameDecoderTests

  static let rules = """
    const gateway_net = 10.0.0.0/24
    const sip_ports   = {5060, 5061}

    rulelist my-udp-endpoint for UDP {
      rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
        set HTTP.headers.id = 1
        route to worker via transcoder
      }
      rule sip when UDP.dst_port in sip_ports and payload starts "INVITE " {
        route to sip-proxy
      }
      rule everything-else {
        drop
      }
    }
    """

  static func rulesFile() -> String {
    let path = CaptureFiles.temporaryPath("gateway.rules")
    try! rules.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  static func capture() -> String {
    let ip = F.ipv4
    let frames = [
      F.ethernet(
        0x0800,
        ip(0x0A00_0007, 0x0A00_0001, 17, F.udp(9001, 9001, Array("hello".utf8)), 0, 0x4000, nil)),
      F.ethernet(
        0x0800,
        ip(
          0xC0A8_0105, 0x0A00_0001, 17, F.udp(5000, 5060, Array("INVITE sip:bob".utf8)), 0, 0x4000,
          nil)),
      F.ethernet(0x0800, ip(0xAC10_0001, 0x0A00_0001, 17, F.udp(1234, 53, [0x3F]), 0, 0x4000, nil)),
      F.ethernet(0x0806, [UInt8](repeating: 0, count: 28)),
      F.ethernet(0x0800, ip(0x0A00_0007, 0x0A00_0001, 6, F.tcp(40000, 80, []), 0, 0x4000, nil)),
    ]
    return CaptureFiles.pcap("s.pcap", dlt: 1, frames.map { CaptureFiles.Frame($0) })
  }

  /// A session with the rules and the capture loaded.
  static func loaded() -> ReplSession {
    let s = ReplSession()
    let load = s.handle(":load \(rulesFile())")
    #expect(load.contains("loaded"), "\(load)")
    let pcap = s.handle(":pcap \(capture())")
    #expect(pcap.contains("5 frames (pcap, ethernet), 4 decoded, 1 undecodable"), "\(pcap)")
    return s
  }

  @Test func loadReportsRulelistsAndSelectsTheFirstPacket() {
    let s = ReplSession()
    let out = s.handle(":load \(Self.rulesFile())")
    #expect(out.contains(": 3 rules in 1 rulelist: my-udp-endpoint (UDP)"), "\(out)")
    let pcap = s.handle(":pcap \(Self.capture())")
    #expect(pcap.contains("selected frame 1: UDP 10.0.0.7:9001 → 10.0.0.1:9001"), "\(pcap)")
  }

  @Test func runListsEveryFrameAndTotals() {
    let s = Self.loaded()
    let out = s.handle(":run")
    let lines = out.split(separator: "\n").map(String.init)
    #expect(lines[0].hasPrefix("frame  time"), "\(out)")
    #expect(
      lines[1].contains("UDP 10.0.0.7:9001 → 10.0.0.1:9001") && lines[1].contains("from-gateway"))
    #expect(lines[2].contains("sip") && lines[2].contains("route to sip-proxy"))
    #expect(lines[3].contains("everything-else") && lines[3].hasSuffix("drop"))
    #expect(lines[4].contains("undecodable: not IP (ethertype 0x0806, ARP)"))
    #expect(lines[5].contains("not run: the rules have no TCP rulelist"))
    let totals = out.components(separatedBy: "\n\n").last ?? ""
    #expect(
      totals == """
        rule                                    packets
        from-gateway                                  1
        sip                                           1
        everything-else                               1
        no rule matched (dropped)                     0
        not run (no rulelist for the protocol)        1
        undecodable                                   1

        """, "\(totals)")
  }

  @Test func packetsFilters() {
    let s = Self.loaded()
    let sip = s.handle(":packets UDP.dst_port in 5060..5061")
    #expect(sip.split(separator: "\n").count == 2, "\(sip)")
    #expect(sip.contains("192.168.1.5"))
    let tcp = s.handle(":packets TCP.dst_port == 80")
    #expect(tcp.split(separator: "\n").count == 2 && tcp.contains("TCP 10.0.0.7:40000"), "\(tcp)")
    #expect(s.handle(":packets undecodable").contains("ARP"))
    let byRule = s.handle(":packets rule everything-else")
    #expect(byRule.contains("172.16.0.1") && !byRule.contains("10.0.0.7"), "\(byRule)")
    #expect(s.handle(":packets rule everything").contains("did you mean 'everything-else'?"))
    #expect(s.handle(":packets UDP.dst_port").contains("a filter is a condition (bool)"))
    #expect(s.handle(":packets UDP.dst_port == 1").hasPrefix("no frames match"))
    #expect(s.handle(":packets IP.src_adr == 1.2.3.4").contains("did you mean 'IP.src_addr'"))
  }

  @Test func expressionsOnTheSelectedPacket() {
    let s = Self.loaded()
    #expect(s.handle("UDP.dst_port") == "9001 : int\n")
    #expect(s.handle("payload") == "\"hello\" : bytes\n")
    #expect(s.handle("IP.src_addr in gateway_net") == "true : bool\n")
    #expect(s.handle("payload[0] & 0xc0") == "64 : int?\n")
    #expect(s.handle("payload[40]") == "absent : int?\n")
    #expect(s.handle("sip_ports") == "{5060, 5061} : set of int\n")
    #expect(s.handle("len(payload) + 1").contains("error"))
    #expect(s.handle(":type payload[8:4]") == "bytes?\n")
    #expect(s.handle(":type IP.src_addr starts \"10.0\"") == "bool\n")
    let bad = s.handle("UDP.dst_prt == 5")
    #expect(bad.contains("did you mean 'UDP.dst_port'"), "\(bad)")
  }

  @Test func packetShowsFieldsPayloadAndVerdict() {
    let s = Self.loaded()
    let out = s.handle(":packet 2")
    #expect(out.hasPrefix("frame 2: time 0.000000 s"), "\(out)")
    #expect(out.contains("udp 192.168.1.5:5000 -> 10.0.0.1:5060 payload \"INVITE sip:bob\""))
    #expect(out.contains("  UDP.dst_port  5060\n"), "\(out)")
    #expect(out.contains("0000  49 4e 56 49 54 45 20 73  69 70 3a 62 6f 62"))
    #expect(out.contains("verdict: rule sip (line 9) → route to sip-proxy"))
    #expect(s.handle(":packet 4").contains("undecodable: not IP"))
    #expect(s.handle(":packet 9").contains("no frame 9; the capture has frames 1 to 5"))
    #expect(s.handle(":packet x").contains("takes a frame number"))
  }

  @Test func traceExplainsEachRule() {
    let s = Self.loaded()
    let out = s.handle(":trace 2")
    let expected = """
      frame 2: udp 192.168.1.5:5000 -> 10.0.0.1:5060 payload "INVITE sip:bob"
      rulelist my-udp-endpoint
        ✗ rule from-gateway (line 5)
            ✗ IP.src_addr starts "10.0.0"    (IP.src_addr = 192.168.1.5)
            ✗ UDP.src_port == 9001    (UDP.src_port = 5000)
        ✓ rule sip (line 9)
            ✓ UDP.dst_port in sip_ports    (UDP.dst_port = 5060)
            ✓ payload starts "INVITE "    (payload = "INVITE sip:bob")
      verdict: rule sip → route to sip-proxy

      """
    #expect(out == expected, "\(out)")
    let first = s.handle(":trace 1")
    #expect(first.contains("verdict: rule from-gateway → route to worker via transcoder"))
    #expect(first.contains("  set HTTP.headers.id = 1"))
    let drop = s.handle(":trace 3")
    #expect(drop.contains("✓ rule everything-else (line 12): no condition, matches every packet"))
    #expect(s.handle(":trace 4").contains("frame 4 was not decoded"))
  }

  @Test func setEditsTheSelectedPacket() {
    let s = Self.loaded()
    _ = s.handle(":packet 3")
    let out = s.handle(":set UDP.dst_port = 5061")
    #expect(out.hasPrefix("frame 3 (edited)"), "\(out)")
    #expect(out.contains("verdict: rule everything-else"))
    let invite = s.handle(":set payload = \"INVITE x\"")
    #expect(invite.contains("verdict: rule sip"), "\(invite)")
    #expect(s.handle(":set labels.k = 5").contains("labels.k      5"))
    #expect(s.handle(":set labels.k = absent").contains("labels.k") == false)
    #expect(s.handle(":set UDP.dst_port = 70000").contains("a port number, 0 to 65535"))
    #expect(s.handle(":set IP.src_addr = 5").contains("is an address"))
    #expect(s.handle(":set IP.src_adr = 10.0.0.1").contains("did you mean 'IP.src_addr'?"))
    let bad = s.handle(":set payload = \"open")
    #expect(bad.contains("not a value"), "\(bad)")
    // The frame itself is unchanged.
    #expect(s.handle(":packet 3").contains("verdict: rule everything-else"))
  }

  @Test func packetLiteralsSelectSyntheticPackets() {
    let s = Self.loaded()
    let out = s.handle("udp 10.0.0.9:9001 -> 10.0.0.1:9001 payload \"x\"")
    #expect(out.hasPrefix("packet\n  udp 10.0.0.9:9001"), "\(out)")
    #expect(out.contains("verdict: rule from-gateway"))
    #expect(s.handle("UDP.src_port") == "9001 : int\n")
    let bad = s.handle("udp 10.0.0.1 -> 10.0.0.2:53")
    #expect(bad.contains("error: expected ':PORT' after the source address"), "\(bad)")
    #expect(bad.contains("\n              ^\n"), "\(bad)")
  }

  @Test func definitionsAcrossLines() {
    let s = Self.loaded()
    #expect(s.handle("rule dns when UDP.dst_port == 53 {") == "")
    #expect(s.isContinuing)
    #expect(s.handle("  route to resolver") == "")
    let out = s.handle("}")
    #expect(out.contains("added rule dns at the end of rulelist my-udp-endpoint"), "\(out)")
    // Added after the catch-all: the checker says it is shadowed, and it never decides.
    #expect(out.contains("warning"), "\(out)")
    #expect(!s.isContinuing)
    // Replacing the catch-all by a narrower rule lets dns decide.
    let replaced = s.handle("rule everything-else when UDP.dst_port != 53 { drop }")
    #expect(replaced.contains("replaced rule everything-else"), "\(replaced)")
    #expect(s.handle(":packet 3").contains("verdict: rule dns"))
    #expect(s.handle("const dns_port = 53").contains("defined const dns_port"))
    #expect(s.handle("dns_port") == "53 : int\n")
    let list = s.handle("rulelist web for TCP { rule all { route to web } }")
    #expect(list.contains("defined rulelist web"), "\(list)")
    #expect(s.handle(":packet 5").contains("verdict: rule all"))
    #expect(s.handle(":source").contains("rule dns when UDP.dst_port == 53 {"))
  }

  @Test func badDefinitionsLeaveTheRulesUnchanged() {
    let s = Self.loaded()
    let out = s.handle("rule bad when UDP.dst_port == \"x\" { drop }")
    #expect(out.contains("cannot compare int with string"), "\(out)")
    #expect(out.contains("the definition was not added"))
    #expect(!s.handle(":source").contains("rule bad"))
    #expect(s.handle("rule { drop }").contains("error"))
    // Ctrl-C drops a definition being typed.
    _ = s.handle("rule half when true {")
    #expect(s.isContinuing)
    s.cancelInput()
    #expect(!s.isContinuing)
    #expect(s.handle("UDP.dst_port") == "9001 : int\n")
    _ = s.handle("rulelist open for UDP {")
    #expect(s.finish().contains("the input ended inside a definition"))
  }

  @Test func reloadKeepsTypedDefinitions() throws {
    let s = ReplSession()
    let path = Self.rulesFile()
    _ = s.handle(":load \(path)")
    _ = s.handle("const extra = 1")
    try Self.rules.replacingOccurrences(of: "sip-proxy", with: "sip-b2bua")
      .write(toFile: path, atomically: true, encoding: .utf8)
    let out = s.handle(":reload")
    #expect(out.contains("loaded <session>"), "\(out)")
    #expect(s.handle(":disasm").contains("route to sip-b2bua"))
    #expect(s.handle("extra").hasPrefix("1 : int"))
    // A file with errors: reported, and no rules until it is fixed.
    try "rulelist x for UDP { rule r when UDP.dst_port == \"a\" { drop } }"
      .write(toFile: path, atomically: true, encoding: .utf8)
    let broken = s.handle(":load \(path)")
    #expect(broken.contains("cannot compare int with string"), "\(broken)")
    #expect(broken.contains("no rules are loaded"))
    #expect(s.rules == nil)
  }

  @Test func disasmOfOneRule() {
    let s = Self.loaded()
    let out = s.handle(":disasm sip")
    #expect(
      out.hasPrefix(
        "; rule sip, compiled alone in its rulelist\nrulelist my-udp-endpoint for UDP:\n"), "\(out)"
    )
    #expect(out.contains("match     rule 0 ; sip: route to sip-proxy"))
    #expect(!out.contains("from-gateway"))
    #expect(s.handle(":disasm sipp").contains("did you mean 'sip'?"))
    #expect(s.handle(":disasm").contains("rules:\n"))
  }

  @Test func errorsNeverEndTheSession() {
    let s = ReplSession()
    #expect(s.handle(":frobnicate").contains("unknown command ':frobnicate'"))
    #expect(s.handle(":pacets").contains("did you mean ':packets'?"))
    #expect(
      s.handle(":load /nonexistent.rules").contains(
        "cannot read '/nonexistent.rules': no such file"))
    #expect(s.handle(":pcap /nonexistent.pcap").contains("/nonexistent.pcap: no such file"))
    #expect(s.handle(":run").contains("no capture loaded"))
    #expect(s.handle(":trace").contains("no packet selected"))
    #expect(s.handle("UDP.dst_port").contains("no packet selected"))
    #expect(s.handle(":reload").contains("no rules file loaded"))
    #expect(s.handle(":load").contains("usage: :load FILE"))
    #expect(s.handle(":help").contains(":trace [N]"))
    #expect(s.handle("") == "")
    #expect(ReplSession.isQuit(":quit") && ReplSession.isQuit(" :q "))
  }

  @Test func completion() {
    let s = Self.loaded()
    #expect(s.completions(":p").candidates == [":packet", ":packets", ":pcap"])
    #expect(s.completions(":pa").candidates == [":packet", ":packets"])
    #expect(s.completions(":tr").candidates == [":trace"])
    #expect(s.completions("IP.s").candidates == ["IP.src_addr"])
    #expect(s.completions("UDP.dst_port in sip").candidates == ["sip", "sip_ports"])
    #expect(s.completions("payload sta").candidates == ["starts"])
    #expect(s.completions(":disasm every").candidates == ["everything-else"])
    #expect(s.completions(":set UDP.d").candidates == ["UDP.dst_port"])
    #expect(s.completions("lab").candidates == ["labels."])
    #expect(ReplSession.commonExtension(":pa", [":packet", ":packets"]) == "cket")
    let dir = CaptureFiles.temporaryPath("x")
    let folder = (dir as NSString).deletingLastPathComponent
    #expect(FileManager.default.createFile(atPath: folder + "/gate.pcap", contents: Data()))
    #expect(s.completions(":pcap \(folder)/ga").candidates == ["\(folder)/gate.pcap"])
  }
}
