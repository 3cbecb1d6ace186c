// Placeholder: the iptables/nftables batch package (issue: bridge).
export {};
