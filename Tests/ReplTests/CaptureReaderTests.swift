import Foundation
import RuleLang
import Testing
import VM

@testable import Repl

/// Captures written by the tests (pcap by libpcap, pcapng by hand) read back through libpcap: every
/// link type and protocol, every frame accounted for, and the bad files with their messages.
@Suite struct CaptureReaderTests {
  typealias F = FrameDecoderTests
  typealias Frame = CaptureFiles.Frame

  static let gateway: UInt32 = 0x0A00_0007
  static let server: UInt32 = 0x0A00_0001

  /// One frame of each kind, on Ethernet: what each must decode to.
  static var ethernetFrames: [Frame] {
    [
      Frame(
        F.ethernet(
          0x0800, F.ipv4(gateway, server, proto: 17, F.udp(9001, 9001, Array("hello".utf8)))),
        nanoseconds: 0),
      Frame(
        F.ethernet(0x0800, F.ipv4(gateway, server, proto: 6, F.tcp(40000, 80, [1, 2, 3]))),
        nanoseconds: 1_000),
      Frame(
        F.ethernet(
          0x0800, F.ipv4(gateway, server, proto: 17, F.udp(9001, 53, [0x3F])), tags: [0x8100]),
        nanoseconds: 2_500),
      Frame(
        F.ethernet(
          0x86DD,
          F.ipv6(next: 17, F.udp(5000, 5061, Array("v6".utf8)), extensions: [(0, 8), (60, 16)])),
        nanoseconds: 3_000),
      Frame(F.ethernet(0x0806, [UInt8](repeating: 0, count: 28)), nanoseconds: 4_000),
      Frame(
        F.ethernet(
          0x0800, F.ipv4(gateway, server, proto: 17, F.udp(1, 2, [9]), flagsAndOffset: 0x2000)),
        nanoseconds: 5_000),
      Frame(
        F.ethernet(0x0800, F.ipv4(gateway, server, proto: 1, [8, 0, 0, 0, 0, 1, 0, 1])),
        nanoseconds: 6_000),
      // Cut by the snapshot length: 30 bytes kept of 98.
      Frame(
        Array(
          F.ethernet(
            0x0800,
            F.ipv4(gateway, server, proto: 17, F.udp(1, 2, [UInt8](repeating: 7, count: 56))))[
              0..<30]), nanoseconds: 7_000, wireLength: 98),
    ]
  }

  func expectEthernetFrames(_ c: Capture) {
    #expect(c.frames.count == 8)
    #expect(c.frames.map(\.number) == Array(1...8))
    #expect(c.damage == nil)
    guard c.frames.count == 8 else { return }
    let p1 = c.frames[0].packet
    #expect(p1?.transport == .udp)
    #expect(p1?.packet.payload == Array("hello".utf8))
    #expect(p1?.flow == "UDP 10.0.0.7:9001 → 10.0.0.1:9001")
    #expect(p1?.literal == "udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload \"hello\"")
    let p2 = c.frames[1].packet
    #expect(p2?.transport == .tcp)
    #expect(p2?.packet.dstPort == 80)
    // A TCP listener judges the connection: no payload.
    #expect(p2?.packet.payload == nil)
    #expect(c.frames[2].packet?.packet.dstPort == 53)
    let p4 = c.frames[3].packet
    #expect(p4?.packet.srcAddr?.description == "2001:db8::1")
    #expect(p4?.packet.payload == Array("v6".utf8))
    #expect("\(c.frames[4].content)".contains("ARP"))
    #expect(undecodable(c.frames[4])?.contains("not IP (ethertype 0x0806, ARP)") == true)
    #expect(undecodable(c.frames[5])?.contains("IPv4 fragment") == true)
    #expect(undecodable(c.frames[6])?.contains("unsupported protocol 1 (ICMP)") == true)
    #expect(undecodable(c.frames[7]) == "truncated IPv4 header: 20 bytes needed, 16 captured")
    #expect(c.frames[7].wireLength == 98 && c.frames[7].capturedLength == 30)
    #expect(c.frames[2].time.nanoseconds == 2_500)
    #expect(c.frames[2].time.relative(to: c.frames[0].time) == "0.000002")
    #expect(c.packetCount == 4)
  }

  func undecodable(_ f: CapturedFrame) -> String? {
    if case .undecodable(let r) = f.content { return r.description }
    return nil
  }

  @Test func ethernetPcapWrittenByLibpcap() throws {
    let path = CaptureFiles.pcap("eth.pcap", dlt: 1, Self.ethernetFrames)
    let c = try Capture.read(path)
    #expect(c.format == .pcap)
    #expect(c.linkType == .ethernet)
    expectEthernetFrames(c)
  }

  @Test func ethernetPcapng() throws {
    let path = CaptureFiles.pcapng("eth.pcapng", linkType: 1, Self.ethernetFrames)
    let c = try Capture.read(path)
    #expect(c.format == .pcapng)
    #expect(c.linkType == .ethernet)
    expectEthernetFrames(c)
    #expect(c.frames[0].time.seconds == 1_764_172_800)
  }

  /// The same UDP packet over every other link type, in pcap and pcapng.
  @Test(arguments: [
    (Int32(113), LinkType.linuxSLL), (276, .linuxSLL2), (12, .raw), (0, .null), (228, .ipv4),
  ])
  func linkTypes(dlt: Int32, link: LinkType) throws {
    let ip = F.ipv4(Self.gateway, Self.server, proto: 17, F.udp(9001, 9001, Array("hi".utf8)))
    let ip6 = F.ipv6(next: 17, F.udp(9001, 9001, Array("hi".utf8)), extensions: [(43, 8)])
    let frames: [[UInt8]]
    switch link {
    case .linuxSLL: frames = [F.sll(0x0800, ip), F.sll(0x86DD, ip6)]
    case .linuxSLL2: frames = [F.sll2(0x0800, ip), F.sll2(0x86DD, ip6)]
    case .null:
      frames = [F.loopback(2, littleEndian: true, ip), F.loopback(30, littleEndian: false, ip6)]
    case .ipv4: frames = [ip, ip]
    default: frames = [ip, ip6]
    }
    let linkTypeInFile: UInt16 = dlt == 12 ? 101 : UInt16(dlt)
    for path in [
      CaptureFiles.pcap("l.pcap", dlt: dlt, frames.map { Frame($0) }),
      CaptureFiles.pcapng("l.pcapng", linkType: linkTypeInFile, frames.map { Frame($0) }),
    ] {
      let c = try Capture.read(path)
      #expect(c.linkType == link, "\(path)")
      #expect(c.frames.count == 2)
      for f in c.frames {
        #expect(
          f.packet?.packet.payload == Array("hi".utf8), "\(link) frame \(f.number): \(f.content)")
        #expect(f.packet?.packet.srcPort == 9001)
      }
    }
  }

  // MARK: bad files

  func error(_ path: String) -> String {
    do {
      _ = try Capture.read(path)
      Issue.record("\(path) was read")
      return ""
    } catch {
      return error.description
    }
  }

  @Test func missingFileAndDirectory() {
    #expect(error("/nonexistent/x.pcap") == "/nonexistent/x.pcap: no such file")
    #expect(error("/tmp").contains("is a directory"))
  }

  @Test func notACapture() {
    let text = CaptureFiles.write("rules.pcap", Array("rulelist x for UDP {}\n".utf8))
    let e = error(text)
    #expect(
      e.hasPrefix(text + ": not a pcap or pcapng capture (it starts with 72 75 6c 65;"), "\(e)")
    let empty = CaptureFiles.write("empty.pcap", [])
    #expect(error(empty).contains("not a pcap or pcapng capture (the file is empty"))
  }

  @Test func truncatedFileHeader() throws {
    let good = CaptureFiles.pcap("t.pcap", dlt: 1, Self.ethernetFrames)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
    let cut = CaptureFiles.write("head.pcap", Array(bytes[0..<10]))
    let e = error(cut)
    #expect(e.contains("cannot be read as pcap: truncated dump file"), "\(e)")
  }

  /// A capture cut in the middle of a record: the frames before it are kept, and the damage says
  /// where.
  @Test func truncatedRecordKeepsTheFramesBefore() throws {
    for (name, bytes) in [
      (
        "cut.pcap",
        [UInt8](
          try Data(
            contentsOf: URL(
              fileURLWithPath: CaptureFiles.pcap("t.pcap", dlt: 1, Self.ethernetFrames))))
      ),
      ("cut.pcapng", CaptureFiles.pcapngBytes(linkType: 1, Self.ethernetFrames)),
    ] {
      let path = CaptureFiles.write(name, Array(bytes.dropLast(20)))
      let c = try Capture.read(path)
      #expect(c.frames.count == 7, "\(name)")
      let damage = try #require(c.damage)
      #expect(damage.description.contains("damaged after frame 7"), "\(damage)")
      #expect(damage.description.contains("the 7 frames before it are kept"))
    }
  }

  @Test func unsupportedLinkType() {
    let wifi = CaptureFiles.pcap("wifi.pcap", dlt: 105, [Frame([0, 1, 2, 3])])
    let e = error(wifi)
    #expect(e.contains("link type 105, IEEE802_11"), "\(e)")
    #expect(e.contains("is not supported; supported: Ethernet"))
    let ng = CaptureFiles.pcapng("usb.pcapng", linkType: 189, [Frame([0, 1, 2, 3])])
    #expect(error(ng).contains("link type 189"))
  }
}
