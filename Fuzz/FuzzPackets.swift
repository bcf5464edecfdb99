// libFuzzer target for what the REPL and `l7mp test` read from outside: captured frames
// (`FrameDecoder`, every link type) and packet literals (`PacketLiteral`). The first byte picks
// the input's kind: below 0x80 it is a frame of link type `LinkType.allCases[b % count]` (the rest
// of the input); from 0x80 the rest is a packet literal. A crash, a sanitizer report, a decoded
// payload outside its frame, the two decoder entry points disagreeing, an error offset outside
// the literal, or a literal that does not print back to itself traps. Decoded packets are also
// judged by the seed's rules through the verifier and the VM, as `l7mp test` judges them. Build
// and run with `Fuzz/run-packets.sh`.
//
// Compiled as one module with the sources of `VM` and `Repl/FrameDecoder.swift` (RuleLang is a
// separate module).

import RuleLang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

private let seedRules = """
  const gateway_net = 10.0.0.0/24
  const sip_ports   = {5060, 5061}
  rulelist udp for UDP {
    rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
      set HTTP.headers.id = 1
      route to worker via transcoder
    }
    rule sip when UDP.dst_port in sip_ports and payload starts "INVITE " { route to sip-proxy }
    rule rtp when IP.src_addr in gateway_net and payload[0] & 0xc0 == 0x80 and len(payload) >= 12 {
      set labels.ssrc = u32(payload, 8)
      route to media
    }
    rule v6 when IP.src_addr in 2001:db8::/32 and payload contains "x" { drop }
  }
  rulelist tcp for TCP {
    rule web when TCP.dst_port in 80..443 and IP.dst_addr in 10.0.0.0/8 { route to web }
  }
  """

private let seedProgram: (VerifiedProgram, Program) = {
  guard case .success(let program) = RuleCompiler.compile(SourceFile(name: "seed", text: seedRules))
  else { fatalError("the seed rules do not compile") }
  guard let verified = try? Verifier.verify(program) else { fatalError("seed does not verify") }
  return (verified, program)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackets(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size > 0 else { return 0 }
  let rest = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  if data[0] < 0x80 {
    frame(rest, linkType: LinkType.allCases[Int(data[0]) % LinkType.allCases.count])
  } else {
    literal(String(decoding: rest, as: UTF8.self))
  }
  return 0
}

private func frame(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) {
  // A copy of its own, so that a read past the frame is a sanitizer report.
  let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
  defer { copy.deallocate() }
  if let base = bytes.baseAddress {
    copy.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
  }
  let frame = UnsafeRawBufferPointer(copy)
  var view = PacketView()
  let inPlace = FrameDecoder.decode(frame, linkType: linkType, into: &view)
  let returned = FrameDecoder.decode(frame, linkType: linkType)
  switch (inPlace, returned) {
  case (.success(let t1), .packet(let v2, let t2)):
    guard t1 == t2, same(view, v2) else { fatalError("the decoder's two forms disagree") }
    if let p = view.payload, p.count > 0 {
      let start = p.baseAddress! - frame.baseAddress!
      guard start >= 0, start + p.count <= frame.count else {
        fatalError("payload \(start)..<\(start + p.count) outside a \(frame.count)-byte frame")
      }
    }
    let list = t1 == .tcp ? 1 : 0
    withUnsafeTemporaryAllocation(of: Rewrite.self, capacity: Verifier.maxRewrites) { rewrites in
      let verdict = VM.evaluate(seedProgram.0, rulelist: list, packet: view, rewrites: rewrites)
      guard verdict.rule >= -1, Int(verdict.rule) < seedProgram.1.rules.count else {
        fatalError("verdict \(verdict)")
      }
    }
  case (.failure(let r1), .undecodable(let r2)):
    guard r1 == r2 else { fatalError("reasons differ: \(r1) / \(r2)") }
  default:
    fatalError("the decoder's two forms disagree: \(inPlace) / \(returned)")
  }
}

private func same(_ a: PacketView, _ b: PacketView) -> Bool {
  a.srcAddr == b.srcAddr && a.dstAddr == b.dstAddr && a.hasAddresses == b.hasAddresses
    && a.srcPort == b.srcPort && a.dstPort == b.dstPort
    && a.payload?.baseAddress == b.payload?.baseAddress && a.payload?.count == b.payload?.count
}

private func literal(_ text: String) {
  do {
    let p = try PacketLiteral.parse(text)
    let printed = PacketLiteral.format(p)
    guard let again = try? PacketLiteral.parse(printed) else {
      fatalError(
        "\(text.debugDescription) printed as \(printed.debugDescription), which does not parse")
    }
    guard again == p else {
      fatalError(
        "\(text.debugDescription) printed as \(printed.debugDescription) reads back differently")
    }
  } catch {
    let length = text.utf8.count
    guard error.offset >= 0, error.offset <= length, error.offset + error.length <= length + 1
    else {
      fatalError("error \(error) at \(error.offset)+\(error.length) of a \(length)-byte literal")
    }
  }
}
