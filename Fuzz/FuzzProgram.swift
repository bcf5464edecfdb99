// libFuzzer target for the binary program format, the verifier and the VM together: every input
// is given to `ProgramCodec.decode` (as it is, and again with its section checksums repaired); a
// program that decodes and passes `Verifier.verify` is run on every rulelist and a few fixed
// packets (empty payload, absent fields, headers and labels of every kind). A crash, a sanitizer
// report or a verdict naming a rule that does not exist is a hole in one of the three. Build and
// run with `Fuzz/run-program.sh`.
//
// Compiled as one module with the sources of `VM` (RuleLang is a separate module), so it sees
// VM's internals as the tests do.

import RuleLang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

private let fuzzPackets: [OwnedPacket] = {
  func ip(_ s: String) -> IPAddress { try! IPAddress.parse(s).get() }
  var empty = OwnedPacket()
  empty.payload = []
  var udp = OwnedPacket()
  udp.srcAddr = ip("10.0.0.7")
  udp.dstAddr = ip("10.0.0.1")
  udp.srcPort = 9001
  udp.dstPort = 5061
  udp.payload = [0x80, 0, 0, 1, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 0x47, 0x45, 0x54]
  var ws = OwnedPacket()
  ws.srcAddr = ip("2001:db8::1")
  ws.dstAddr = ip("::1")
  ws.srcPort = 40000
  ws.dstPort = 443
  ws.payload = Array("INVITE sip:x SIP/2.0\r\n".utf8)
  ws.httpMethod = "GET"
  ws.httpPath = "/admin/x"
  ws.httpQuery = "debug=1"
  ws.httpHost = "a.example.com"
  ws.headers = [("User-Agent", "Mozilla"), ("x-tenant", "blue"), ("connection", "Upgrade")]
  ws.labels = [
    ("tenant", .bytes(Array("blue".utf8))), ("priority", .int(5)), ("peer", .ip(ip("10.1.2.3"))),
    ("x", .int(-1)),
  ]
  var unix = OwnedPacket()
  unix.unixFilename = "/run/control.sock"
  return [OwnedPacket(), empty, udp, ws, unix]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProgram(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  run(bytes)
  // Mutations almost never keep a section's CRC right, so the same input is tried again with
  // every checksum recomputed: that reaches the section decoders, the verifier and the VM.
  let repaired = repairingChecksums(bytes)
  if repaired != bytes { run(repaired) }
  return 0
}

private func run(_ bytes: [UInt8]) {
  guard let program = try? ProgramCodec.decode(bytes) else { return }
  guard let verified = try? Verifier.verify(program) else { return }
  for list in program.rulelists.indices {
    for packet in fuzzPackets {
      let (verdict, rewrites) = VM.evaluate(verified, rulelist: list, packet: packet)
      if verdict.rule < -1 || Int(verdict.rule) >= program.rules.count
        || rewrites.count > Verifier.maxRewrites
      {
        fatalError("rulelist \(list): verdict \(verdict), \(rewrites.count) rewrites")
      }
    }
  }
}

/// `bytes` with each section's CRC-32 recomputed, as far as the section headers can be read.
private func repairingChecksums(_ bytes: [UInt8]) -> [UInt8] {
  var b = bytes
  func u32(_ at: Int) -> Int? {
    guard at >= 0, at + 4 <= b.count else { return nil }
    return (0..<4).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) }
  }
  var at = 12
  for _ in 0..<min(u32(8) ?? 0, 64) {
    guard let length = u32(at + 4), length <= b.count - at - 12 else { break }
    let crc = ProgramCodec.crc32(Array(b[(at + 12)..<(at + 12 + length)]))
    for i in 0..<4 { b[at + 8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    at += 12 + length
  }
  return b
}

/// With `L7MP_FUZZ_SEED_FROM=DIR` and `L7MP_FUZZ_SEED_TO=DIR` set, compiles every `.rules` file of
/// the first folder and writes its binary form into the second, for the corpus (`run-program.sh`
/// runs it once with `-runs=0` before fuzzing).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzProgramInitialize(
  _ argc: UnsafeMutablePointer<CInt>?,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
  guard let from = getenv("L7MP_FUZZ_SEED_FROM").map({ String(cString: $0) }),
    let to = getenv("L7MP_FUZZ_SEED_TO").map({ String(cString: $0) }),
    let dir = opendir(from)
  else { return 0 }
  defer { closedir(dir) }
  while let entry = readdir(dir) {
    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
      String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
    }
    guard name.hasSuffix(".rules"), let text = readFile(from + "/" + name) else { continue }
    guard case .success(let program) = RuleCompiler.compile(SourceFile(name: name, text: text))
    else {
      print("seed: \(name) does not compile")
      continue
    }
    let bytes = ProgramCodec.encode(program)
    guard let out = fopen(to + "/" + name.dropLast(".rules".count) + ".l7b", "wb") else { continue }
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, out) }
    fclose(out)
  }
  return 0
}

private func readFile(_ path: String) -> String? {
  guard let f = fopen(path, "rb") else { return nil }
  defer { fclose(f) }
  var bytes: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let n = buffer.withUnsafeMutableBufferPointer { fread($0.baseAddress, 1, $0.count, f) }
    if n <= 0 { break }
    bytes += buffer[0..<n]
  }
  return String(decoding: bytes, as: UTF8.self)
}
