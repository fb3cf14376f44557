package parse

import "testing"

func TestPingReceived(t *testing.T) {
	tests := []struct {
		file string
		want int
	}{
		{"pod/ping-ok.txt", 3},
		{"pod/ping-lost.txt", 0},
	}
	for _, tt := range tests {
		got, err := PingReceived(fixture(t, tt.file))
		if err != nil || got != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.file, got, err, tt.want)
		}
	}
	// busybox prints "packets received"; a missing ping binary prints no summary at all.
	if got, err := PingReceived([]byte("4 packets transmitted, 2 packets received, 50% packet loss\n")); err != nil || got != 2 {
		t.Errorf("busybox summary: %d, %v", got, err)
	}
	if _, err := PingReceived([]byte("sh: 1: ping: not found\n")); err == nil {
		t.Errorf("no summary accepted")
	}
}
