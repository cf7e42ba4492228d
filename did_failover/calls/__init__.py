"""Call tracking: what happened to each routed call (AMI events), and the call-history writer."""
