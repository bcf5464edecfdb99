import CPcap
import Foundation

/// Captures written by the tests: pcap through libpcap's own writer (`pcap_open_dead` +
/// `pcap_dump`), pcapng block by block (libpcap cannot write pcapng).
enum CaptureFiles {
  struct Frame {
    var seconds: Int
    var nanoseconds: Int
    var bytes: [UInt8]
    /// The length on the wire (default: the captured bytes).
    var wireLength: Int?

    init(
      _ bytes: [UInt8], seconds: Int = 1_764_172_800, nanoseconds: Int = 0, wireLength: Int? = nil
    ) {
      self.bytes = bytes
      self.seconds = seconds
      self.nanoseconds = nanoseconds
      self.wireLength = wireLength
    }
  }

  static func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-repl-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  /// A pcap file of `dlt` (libpcap's `DLT_*`) with nanosecond timestamps, written by libpcap.
  static func pcap(_ name: String, dlt: Int32, _ frames: [Frame]) -> String {
    let path = temporaryPath(name)
    let dead = pcap_open_dead_with_tstamp_precision(
      dlt, 262_144, UInt32(PCAP_TSTAMP_PRECISION_NANO))!
    defer { pcap_close(dead) }
    let dumper = pcap_dump_open(dead, path)!
    for f in frames {
      var header = pcap_pkthdr()
      header.ts.tv_sec = f.seconds
      header.ts.tv_usec = f.nanoseconds
      header.caplen = UInt32(f.bytes.count)
      header.len = UInt32(f.wireLength ?? f.bytes.count)
      f.bytes.withUnsafeBufferPointer { b in
        withUnsafePointer(to: &header) { h in
          pcap_dump(
            UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), h, b.baseAddress!)
        }
      }
    }
    pcap_dump_close(dumper)
    return path
  }

  /// A pcapng file: a section header, one interface of `linkType` (nanosecond resolution), an
  /// enhanced packet block per frame.
  static func pcapng(_ name: String, linkType: UInt16, _ frames: [Frame]) -> String {
    let path = temporaryPath(name)
    try! Data(pcapngBytes(linkType: linkType, frames)).write(to: URL(fileURLWithPath: path))
    return path
  }

  static func pcapngBytes(linkType: UInt16, _ frames: [Frame]) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
    func block(_ type: Int, _ body: [UInt8]) -> [UInt8] {
      let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
      let length = 12 + padded.count
      return le32(type) + le32(length) + padded + le32(length)
    }
    // Section header: byte-order magic, version 1.0, section length unknown (-1).
    var out = block(
      0x0A0D_0D0A, le32(0x1A2B_3C4D) + le16(1) + le16(0) + [UInt8](repeating: 0xFF, count: 8))
    // Interface: link type, snap length, option if_tsresol = 9 (nanoseconds), end of options.
    let tsresol: [UInt8] = le16(9) + le16(1) + [9, 0, 0, 0]
    out += block(1, le16(Int(linkType)) + le16(0) + le32(0) + tsresol + le16(0) + le16(0))
    for f in frames {
      let t = f.seconds * 1_000_000_000 + f.nanoseconds
      let body =
        le32(0) + le32(t >> 32) + le32(t & 0xFFFF_FFFF) + le32(f.bytes.count)
        + le32(f.wireLength ?? f.bytes.count) + f.bytes
      out += block(6, body)
    }
    return out
  }

  static func write(_ name: String, _ bytes: [UInt8]) -> String {
    let path = temporaryPath(name)
    try! Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }
}
