import Foundation
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Blocking loopback sockets with receive timeouts, so every wait in a test is bounded.
struct TestSocketError: Error, CustomStringConvertible {
  let description: String
}

/// A UDP client socket bound to 127.0.0.1 on a port the OS picks.
/// Only its descriptor: usable from any thread.
final class UDPTestClient: @unchecked Sendable {
  let fd: Int32

  init(timeout: Double = 2) throws {
    fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw TestSocketError(description: "socket: \(errno)") }
    setTimeout(fd, timeout)
    var a = sockaddr_in.loopback(port: 0)
    let r = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard r == 0 else { throw TestSocketError(description: "bind: \(errno)") }
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8], to port: Int) {
    var a = sockaddr_in.loopback(port: port)
    _ = bytes.withUnsafeBytes { b in
      withUnsafePointer(to: &a) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }
  }

  func send(_ text: String, to port: Int) { send(Array(text.utf8), to: port) }

  /// The next datagram, or nil after the timeout.
  func receive(max: Int = 65536) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: max)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
    return n < 0 ? nil : Array(buf[0..<n])
  }

  func receiveText() -> String? { receive().map { String(decoding: $0, as: UTF8.self) } }

  /// The next datagram and the port it came from, or nil after the timeout.
  func receiveWithSender() -> (text: String, port: Int)? {
    var buf = [UInt8](repeating: 0, count: 65536)
    var from = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let n = buf.withUnsafeMutableBytes { b in
      withUnsafeMutablePointer(to: &from) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          recvfrom(fd, b.baseAddress, b.count, 0, $0, &len)
        }
      }
    }
    guard n >= 0 else { return nil }
    return (String(decoding: buf[0..<n], as: UTF8.self), Int(UInt16(bigEndian: from.sin_port)))
  }

  /// A datagram already queued, without waiting.
  func receiveNow() -> String? {
    var buf = [UInt8](repeating: 0, count: 65536)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
    return n < 0 ? nil : String(decoding: buf[0..<n], as: UTF8.self)
  }

  var port: Int {
    var a = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: a.sin_port))
  }

  func setReceiveTimeout(_ seconds: Double) { setTimeout(fd, seconds) }

  /// Room for a 64 KiB datagram either way.
  func raiseBuffers() {
    var size: Int32 = 1 << 20
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
  }
}

/// A TCP client with raw WebSocket framing, for the listener's upgrade and frame handling.
final class TCPTestClient {
  let fd: Int32

  init(port: Int, timeout: Double = 2) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    setTimeout(fd, timeout)
    var a = sockaddr_in.loopback(port: port)
    let r = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard r == 0 else { throw TestSocketError(description: "connect: \(errno)") }
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }

  /// Up to `max` bytes, or nil on timeout or end of stream.
  func receive(max: Int = 65536) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: max)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
    return n <= 0 ? nil : Array(buf[0..<n])
  }

  /// Reads until `marker` appears (bounded by the timeout per read).
  func receive(until marker: String) -> String {
    var text = ""
    while !text.contains(marker), let chunk = receive() {
      text += String(decoding: chunk, as: UTF8.self)
    }
    return text
  }

  /// Sends an upgrade request; returns the response head.
  func upgrade(path: String, headers: [String: String] = [:]) -> String {
    var request =
      "GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    send(Array((request + "\r\n").utf8))
    return receive(until: "\r\n\r\n")
  }

  /// A masked client frame.
  func sendFrame(_ payload: [UInt8], opcode: UInt8 = 0x2) {
    var frame: [UInt8] = [0x80 | opcode]
    let mask: [UInt8] = [1, 2, 3, 4]
    if payload.count < 126 {
      frame.append(0x80 | UInt8(payload.count))
    } else {
      frame.append(0x80 | 126)
      frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    }
    frame += mask
    frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    send(frame)
  }

  /// The next unmasked server frame's opcode and payload (frames under 64 KiB).
  func receiveFrame() -> (opcode: UInt8, payload: [UInt8])? {
    var data: [UInt8] = []
    func need(_ n: Int) -> Bool {
      while data.count < n {
        guard let chunk = receive() else { return false }
        data += chunk
      }
      return true
    }
    guard need(2) else { return nil }
    var length = Int(data[1] & 0x7F)
    var offset = 2
    if length == 126 {
      guard need(4) else { return nil }
      length = Int(data[2]) << 8 | Int(data[3])
      offset = 4
    }
    guard need(offset + length) else { return nil }
    return (data[0] & 0x0F, Array(data[offset..<offset + length]))
  }
}

func setTimeout(_ fd: Int32, _ seconds: Double) {
  var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

extension sockaddr_in {
  static func loopback(port: Int) -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = UInt16(port).bigEndian
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return a
  }
}

/// A free loopback port (see `freeLoopbackPort` in TestSupport).
func freePort(udp: Bool = true) -> Int { freeLoopbackPort(udp: udp) }

/// A Unix stream socket client.
final class UnixTestClient {
  let fd: Int32

  init(path: String, timeout: Double = 2) throws {
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    setTimeout(fd, timeout)
    var a = sockaddr_un()
    a.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else {
      throw TestSocketError(description: "socket path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &a.sun_path) { raw in
      for (k, b) in bytes.enumerated() { raw[k] = b }
    }
    let r = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard r == 0 else { throw TestSocketError(description: "connect \(path): \(errno)") }
  }

  deinit { close(fd) }

  func send(_ text: String) {
    _ = Array(text.utf8).withUnsafeBytes {
      Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
    }
  }

  func receiveText() -> String? {
    var buf = [UInt8](repeating: 0, count: 65536)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
    return n <= 0 ? nil : String(decoding: buf[0..<n], as: UTF8.self)
  }
}
