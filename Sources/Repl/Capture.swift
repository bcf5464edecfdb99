import CPcap
import Foundation
import RuleLang
import VM

/// The libpcap version string, proving the capture library is linked.
public func pcapLibraryVersion() -> String {
  String(cString: pcap_lib_version())
}

/// A capture file read whole: every frame, decoded into a packet or listed with the reason it
/// could not be. Reading goes through libpcap (`pcap_open_offline`), which reads pcap and pcapng.
public struct Capture: Sendable {
  public enum Format: String, Sendable { case pcap, pcapng }

  /// The path as given, for messages.
  public let path: String
  public let format: Format
  public let linkType: LinkType
  public let frames: [CapturedFrame]
  /// Why reading stopped before the end of the file (a record cut short, a corrupt block), with
  /// the frames before it kept; nil when the whole file was read.
  public let damage: CaptureError?

  /// Reads the capture at `path`.
  public static func read(_ path: String) throws(CaptureError) -> Capture {
    try CaptureReader.read(path)
  }

  public var packetCount: Int {
    frames.count {
      if case .packet = $0.content { return true }
      return false
    }
  }
}

/// One frame of a capture and what it decoded to.
public struct CapturedFrame: Sendable {
  /// 1-based, as Wireshark and tcpdump count.
  public let number: Int
  public let time: CaptureTime
  /// The frame's length on the wire.
  public let wireLength: Int
  /// How much of it the capture holds (less than `wireLength` when the snapshot length cut it).
  public let capturedLength: Int
  public let content: Content

  public enum Content: Sendable {
    case packet(CapturedPacket)
    case undecodable(DecodeFailure)
  }

  public init(
    number: Int, time: CaptureTime, wireLength: Int, capturedLength: Int, content: Content
  ) {
    self.number = number
    self.time = time
    self.wireLength = wireLength
    self.capturedLength = capturedLength
    self.content = content
  }

  /// Decodes `bytes` (one captured frame of `linkType`).
  public init(
    number: Int, time: CaptureTime, wireLength: Int, bytes: UnsafeRawBufferPointer,
    linkType: LinkType
  ) {
    let content: Content
    switch FrameDecoder.decode(bytes, linkType: linkType) {
    case .packet(let view, let transport):
      content = .packet(CapturedPacket(view, transport: transport))
    case .undecodable(let reason): content = .undecodable(reason)
    }
    self.init(
      number: number, time: time, wireLength: wireLength, capturedLength: bytes.count,
      content: content)
  }

  public var packet: CapturedPacket? {
    if case .packet(let p) = content { return p }
    return nil
  }
}

/// A decoded frame as the proxy would see it: addresses, ports and (UDP) payload.
public struct CapturedPacket: Sendable, Hashable {
  public let transport: Transport
  public var packet: OwnedPacket

  public init(transport: Transport, packet: OwnedPacket) {
    self.transport = transport
    self.packet = packet
  }

  /// Copies what `view` points to (it points into a frame buffer that does not outlive the read).
  init(_ view: PacketView, transport: Transport) {
    var p = OwnedPacket()
    p.srcAddr = view.srcAddr
    p.dstAddr = view.dstAddr
    p.srcPort = Int(view.srcPort)
    p.dstPort = Int(view.dstPort)
    // TCP rules judge a connection, not its bytes: the listener sees no payload.
    if transport == .udp { p.payload = view.payload.map { Array($0) } ?? [] }
    self.init(transport: transport, packet: p)
  }

  /// The rule language's protocol for this transport.
  public var ruleProtocol: RuleProtocol { transport == .udp ? .udp : .tcp }

  /// `UDP 10.0.0.7:9001 → 10.0.0.1:9001`.
  public var flow: String {
    func endpoint(_ a: IPAddress?, _ port: Int?) -> String {
      let addr = a ?? IPAddress(v4: 0)
      return (addr.isV4 ? addr.description : "[\(addr)]") + ":\(port ?? 0)"
    }
    return "\(transport) \(endpoint(packet.srcAddr, packet.srcPort)) → "
      + endpoint(packet.dstAddr, packet.dstPort)
  }

  /// The packet as a literal (`udp 10.0.0.7:9001 -> … payload "…"`).
  public var literal: String {
    PacketLiteral.format(ParsedPacket(protocol: ruleProtocol, packet: packet))
  }
}

/// A capture timestamp: seconds and nanoseconds since the Unix epoch.
public struct CaptureTime: Sendable, Hashable, Comparable {
  public let seconds: Int64
  public let nanoseconds: Int32

  public init(seconds: Int64, nanoseconds: Int32) {
    self.seconds = seconds
    self.nanoseconds = nanoseconds
  }

  public static func < (a: CaptureTime, b: CaptureTime) -> Bool {
    (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
  }

  /// `self - start` in seconds with microsecond digits: `0.004250`.
  public func relative(to start: CaptureTime) -> String {
    var ns = (seconds - start.seconds) * 1_000_000_000 + Int64(nanoseconds - start.nanoseconds)
    let sign = ns < 0 ? "-" : ""
    ns = abs(ns)
    let micros = ns / 1000
    let fraction = String(micros % 1_000_000)
    return "\(sign)\(micros / 1_000_000)."
      + String(repeating: "0", count: 6 - fraction.count) + fraction
  }

  /// UTC ISO 8601 with nanoseconds: `2026-11-26T18:00:00.000000000Z`.
  public var iso8601: String {
    let date = Date(timeIntervalSince1970: TimeInterval(seconds))
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    func pad(_ v: Int?, _ n: Int) -> String {
      let s = String(v ?? 0)
      return String(repeating: "0", count: max(0, n - s.count)) + s
    }
    return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):"
      + "\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(Int(nanoseconds), 9))Z"
  }
}

/// A capture that cannot be read, or whose reading stopped early: the file and what is wrong.
public struct CaptureError: Error, Sendable, Hashable, CustomStringConvertible {
  public let path: String
  public let message: String

  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }

  public var description: String { "\(path): \(message)" }
}

extension LinkType {
  /// The link type for libpcap's `DLT_*` value (what `pcap_datalink` returns): equal to the
  /// file's `LINKTYPE_*` except raw IP (`DLT_RAW`, 12 on Linux, 14 on BSD/OS) and OpenBSD's
  /// loopback (`DLT_LOOP`, the BSD loopback header in network byte order, which the decoder
  /// reads either way).
  public init?(dlt: Int32) {
    switch dlt {
    case 12, 14: self = .raw
    case 108: self = .null
    default: self.init(rawValue: dlt)
    }
  }

  /// libpcap's name for it, e.g. `EN10MB (Ethernet)`.
  static func describe(dlt: Int32) -> String {
    let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) }
    let text = pcap_datalink_val_to_description(dlt).map { String(cString: $0) }
    switch (name, text) {
    case (let n?, let t?): return "\(dlt), \(n) (\(t))"
    case (let n?, nil): return "\(dlt), \(n)"
    default: return "\(dlt)"
    }
  }
}

/// libpcap's offline reader, with its errors turned into messages that name the file and say
/// what is wrong.
enum CaptureReader {
  static let supported = "Ethernet, Linux cooked (SLL, SLL2), raw IP, IPv4, IPv6, BSD loopback"

  static func read(_ path: String) throws(CaptureError) -> Capture {
    func fail(_ message: String) -> CaptureError { CaptureError(path: path, message: message) }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw fail("no such file")
    }
    if isDirectory.boolValue { throw fail("is a directory, not a capture file") }
    guard let head = FileHandle(forReadingAtPath: path) else {
      throw fail("cannot be read (permission denied?)")
    }
    let magic = [UInt8]((try? head.read(upToCount: 4)) ?? Data())
    try? head.close()
    guard let format = format(of: magic) else {
      let seen = magic.isEmpty ? "the file is empty" : "it starts with " + hexBytes(magic)
      throw fail(
        "not a pcap or pcapng capture (\(seen); a pcap file starts with a1 b2 c3 d4 or d4 c3 b2 a1, a pcapng file with 0a 0d 0d 0a)"
      )
    }

    var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
    guard
      let handle = pcap_open_offline_with_tstamp_precision(
        path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer)
    else {
      let reason = String(
        decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      throw fail("cannot be read as \(format): \(reason)")
    }
    defer { pcap_close(handle) }

    let dlt = pcap_datalink(handle)
    guard let linkType = LinkType(dlt: dlt) else {
      throw fail(
        "link type \(LinkType.describe(dlt: dlt)) is not supported; supported: \(supported)")
    }

    var frames: [CapturedFrame] = []
    var damage: CaptureError? = nil
    var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
    var data: UnsafePointer<UInt8>? = nil
    reading: while true {
      switch pcap_next_ex(handle, &header, &data) {
      case 1:
        guard let h = header?.pointee, let data else { continue }
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
        let time = CaptureTime(
          seconds: Int64(h.ts.tv_sec), nanoseconds: Int32(truncatingIfNeeded: h.ts.tv_usec))
        frames.append(
          CapturedFrame(
            number: frames.count + 1, time: time, wireLength: Int(h.len), bytes: bytes,
            linkType: linkType))
      case PCAP_ERROR_BREAK:
        break reading
      default:
        let reason = String(cString: pcap_geterr(handle))
        let after =
          frames.isEmpty ? "before the first frame" : "after frame \(frames.count)"
        damage = fail("damaged \(after) (\(reason)); the \(frames.count) frames before it are kept")
        break reading
      }
    }
    return Capture(
      path: path, format: format, linkType: linkType, frames: frames, damage: damage)
  }

  static func format(of magic: [UInt8]) -> Capture.Format? {
    guard magic.count == 4 else { return nil }
    switch magic {
    case [0x0A, 0x0D, 0x0D, 0x0A]: return .pcapng
    case [0xA1, 0xB2, 0xC3, 0xD4], [0xD4, 0xC3, 0xB2, 0xA1], [0xA1, 0xB2, 0x3C, 0x4D],
      [0x4D, 0x3C, 0xB2, 0xA1]:
      return .pcap
    default: return nil
    }
  }

  static func hexBytes(_ b: [UInt8]) -> String {
    b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
  }
}
