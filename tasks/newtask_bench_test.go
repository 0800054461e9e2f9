package tasks

import "testing"

// What a producer pays per message before Redis: validation, the JSON
// payload and the asynq task with its options.
func BenchmarkNewSendTask(b *testing.B) {
	s := templateSend()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSendTask(s, Queue(QueueBulk)); err != nil {
			b.Fatal(err)
		}
	}
}

// The worker's decode of a session payload with a fallback template, the
// other shape it reads besides BenchmarkDecodeSend's template.
func BenchmarkDecodeSendSession(b *testing.B) {
	p := []byte(`{"v":1,"message_id":"order-7731","family":"selfserve","source":"14155550100","destination":"919876543210",` +
		`"session":{"type":"text","text":"Your order has shipped"},` +
		`"fallback_template":{"id":"2b7e1c4d-0a1b-4c2d-9e3f-405162738495","params":["7731"]}}`)
	if _, err := DecodeSend(p); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSend(p); err != nil {
			b.Fatal(err)
		}
	}
}
