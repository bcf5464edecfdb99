import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A port that was free a moment ago, below the kernel's ephemeral range (32768–60999 here), so
/// that no socket that connects or sends without binding (an upstream socket, another test's
/// client) can take it before the test binds it: a random port in 10000–32767 that binds.
public func freeLoopbackPort(udp: Bool = true) -> Int {
  for _ in 0..<200 {
    let port = Int.random(in: 10000...32767)
    let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = UInt16(port).bigEndian
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let bound = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    if bound == 0 { return port }
  }
  fatalError("no free loopback port in 10000–32767 after 200 tries")
}
