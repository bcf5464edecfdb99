import Testing

@testable import Proxy

@Suite struct ControlErrorTests {
  @Test func statusCodes() {
    #expect(ControlError.notFound(kind: "listener", name: "x").status == 404)
    #expect(ControlError.notFound(kind: "listener", name: "x").message == "no listener named 'x'")
    #expect(ControlError.conflict("taken").status == 409)
    #expect(ControlError.invalid("bad").status == 400)
    #expect(ControlError.failed("bind").status == 500)
  }
}
