"""The SIP benchmark: SIPp scenarios and the harness that drives them through the test-bed Asterisk."""
