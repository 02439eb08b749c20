"""Generated code for protocol version 1; regenerate with `scripts/gen_proto.sh`, never edit."""
