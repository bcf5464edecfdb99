#!/usr/bin/env python3
"""Writes examples/captures/gateway.pcap: ten Ethernet frames for examples/gateway.rules.

No dependencies (the pcap format is a 24-byte file header and a 16-byte header per record), and
deterministic: running it again gives the same bytes, so the committed capture can be checked
against this script. The frames, and what the gateway rules make of them:

   1  UDP 10.0.0.7:9001 -> 10.0.0.1:9001 "hello"                  from-gateway
   2  UDP 192.168.1.5:5000 -> 10.0.0.1:5060 "INVITE sip:bob@..."  sip
   3  UDP 10.0.0.9:4000 -> 10.0.0.1:7000 RTP header, SSRC deadbeef rtp
   4  UDP 172.16.0.1:1234 -> 10.0.0.1:53 "?"                     everything-else (drop)
   5  802.1Q VLAN 10, UDP 10.0.0.7:9001 -> 10.0.0.1:9001         from-gateway
   6  IPv6 with a hop-by-hop header, UDP -> port 5061 "INVITE"    sip
   7  ARP request                                                undecodable: not IP
   8  IPv4 fragment (more fragments follow)                      undecodable: fragment
   9  TCP SYN 10.0.0.7:40000 -> 10.0.0.1:80                      not run: no TCP rulelist
  10  ICMP echo request                                          undecodable: ICMP
"""
import ipaddress
import os
import struct
import sys

BASE_TIME = 1764172800  # 2025-11-26T16:00:00Z
MAC_A = bytes.fromhex("020000000007")
MAC_B = bytes.fromhex("020000000001")


def ethernet(ethertype, body, vlan=None):
    tag = b"" if vlan is None else struct.pack("!HH", 0x8100, vlan)
    return MAC_B + MAC_A + tag + struct.pack("!H", ethertype) + body


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, body, flags_offset=0x4000, ident=1):
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, flags_offset, 64, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + body


def ipv6_hop_by_hop(src, dst, proto, body):
    # A hop-by-hop options header of 8 bytes: next header, length 0, a PadN option of 4 bytes.
    hop = struct.pack("!BB", proto, 0) + bytes([1, 4, 0, 0, 0, 0])
    payload = hop + body
    return (struct.pack("!IHBB", 0x60000000, len(payload), 0, 64)
            + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload)


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp_syn(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)


def frames():
    sip = b"INVITE sip:bob@example.com SIP/2.0\r\n"
    rtp = bytes.fromhex("80 00 00 01 00 00 00 00 de ad be ef")
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + bytes([10, 0, 0, 7]) \
        + bytes(6) + bytes([10, 0, 0, 1])
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    return [
        ethernet(0x0800, ipv4("10.0.0.7", "10.0.0.1", 17, udp(9001, 9001, b"hello"))),
        ethernet(0x0800, ipv4("192.168.1.5", "10.0.0.1", 17, udp(5000, 5060, sip))),
        ethernet(0x0800, ipv4("10.0.0.9", "10.0.0.1", 17, udp(4000, 7000, rtp))),
        ethernet(0x0800, ipv4("172.16.0.1", "10.0.0.1", 17, udp(1234, 53, b"?"))),
        ethernet(0x0800, ipv4("10.0.0.7", "10.0.0.1", 17, udp(9001, 9001, b"tagged")), vlan=10),
        ethernet(0x86DD, ipv6_hop_by_hop(
            "2001:db8::5", "2001:db8::1", 17,
            udp(5000, 5061, b"INVITE sip:alice@example.com SIP/2.0\r\n"))),
        ethernet(0x0806, arp),
        ethernet(0x0800, ipv4("10.0.0.7", "10.0.0.1", 17, udp(9001, 9001, b"part one"),
                              flags_offset=0x2000, ident=7)),
        ethernet(0x0800, ipv4("10.0.0.7", "10.0.0.1", 6, tcp_syn(40000, 80))),
        ethernet(0x0800, ipv4("10.0.0.7", "10.0.0.1", 1, icmp)),
    ]


def pcap(records):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
    for k, frame in enumerate(records):
        micros = k * 10_000 + (250 if k else 0)
        out += struct.pack("<IIII", BASE_TIME + micros // 1_000_000, micros % 1_000_000,
                           len(frame), len(frame)) + frame
    return out


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "gateway.pcap")
    with open(path, "wb") as f:
        f.write(pcap(frames()))
