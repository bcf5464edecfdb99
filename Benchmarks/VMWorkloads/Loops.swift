import Repl
import RuleLang
import VM

/// The measured loops, shared by the benchmarks and the callgrind driver. Each evaluates packets
/// `range` (modulo `Frames.count`) one after another and returns a checksum of the verdicts, so
/// that the work cannot be optimized away. The loop around an evaluation costs the same few
/// instructions in every variant.
public enum Loops {
  /// The VM on `PacketView`s built as the proxy builds them.
  @inline(never)
  public static func vm(
    _ program: VerifiedProgram, _ frames: Frames, _ range: Range<Int>,
    _ rewrites: UnsafeMutableBufferPointer<Rewrite>
  ) -> Int {
    let views = frames.views
    var sum = 0
    var j = range.lowerBound % Frames.count
    for _ in range {
      sum &+= Int(
        VM.evaluate(program, rulelist: 0, packet: views.baseAddress! + j, rewrites: rewrites).rule)
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }

  /// Decoding the raw Ethernet frame into a view on the stack, then the VM on that view.
  @inline(never)
  public static func decodeVM(
    _ program: VerifiedProgram, _ frames: Frames, _ range: Range<Int>,
    _ rewrites: UnsafeMutableBufferPointer<Rewrite>
  ) -> Int {
    var sum = 0
    var j = range.lowerBound % Frames.count
    var view = PacketView()
    for _ in range {
      switch FrameDecoder.decode(frames.frame(j), linkType: .ethernet, into: &view) {
      case .success:
        sum &+= Int(VM.evaluate(program, rulelist: 0, packet: &view, rewrites: rewrites).rule)
      case .failure:
        sum &-= 1_000
      }
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }

  /// Decoding alone (what decode + VM adds to the VM), in place.
  @inline(never)
  public static func decode(_ frames: Frames, _ range: Range<Int>) -> Int {
    var sum = 0
    var j = range.lowerBound % Frames.count
    var view = PacketView()
    for _ in range {
      if case .success = FrameDecoder.decode(frames.frame(j), linkType: .ethernet, into: &view) {
        sum &+= Int(view.srcPort)
      }
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }

  /// Decoding alone through the `DecodeResult` form (a view copied out in an enum).
  @inline(never)
  public static func decodeResult(_ frames: Frames, _ range: Range<Int>) -> Int {
    var sum = 0
    var j = range.lowerBound % Frames.count
    for _ in range {
      if case .packet(let view, _) = FrameDecoder.decode(frames.frame(j), linkType: .ethernet) {
        sum &+= Int(view.srcPort)
      }
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }

  /// libpcap's `bpf_filter` on the raw Ethernet frame.
  @inline(never)
  public static func bpf(_ filter: BPFFilter, _ frames: Frames, _ range: Range<Int>) -> Int {
    var sum = 0
    var j = range.lowerBound % Frames.count
    for _ in range {
      sum &+= filter.accepts(frames.frame(j)) ? 1 : 0
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }

  /// The AST-walking reference evaluator on an `OwnedPacket`.
  @inline(never)
  public static func reference(
    _ checked: CheckedFile, _ rulelist: String, _ frames: Frames, _ range: Range<Int>
  ) -> Int {
    var sum = 0
    var j = range.lowerBound % Frames.count
    for _ in range {
      let result = ReferenceEvaluator.evaluate(checked, rulelist: rulelist, packet: frames.owned[j])
      sum &+= result.rule == nil ? -1 : 0
      j = j == Frames.count - 1 ? 0 : j + 1
    }
    return sum
  }
}
