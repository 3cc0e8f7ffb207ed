# TFTP codec + read-transfer state machine fuzzer (seeds: the captured OVMF and iPXE RRQs and
# hand-made DATA/ACK/ERROR/OACK packets).
paddock_fuzz(tftp_packet_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tftp_packet_fuzz.cc
  DEPS paddock::tftp)
