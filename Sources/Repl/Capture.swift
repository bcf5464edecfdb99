/// The interactive prompt and capture reading arrive with issue 4.
import CLibEditShim
import CPcap

/// The libpcap version string, proving the capture library is linked.
public func pcapLibraryVersion() -> String {
  String(cString: pcap_lib_version())
}
