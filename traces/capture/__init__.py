"""Importers of captured GPU-cluster traces (-> communication DAG):
MLCommons Chakra execution traces, NCCL INFO logs, pcap/pcapng captures."""
