package worker_test

import (
	"strconv"
	"strings"
)

func itoa(n int) string           { return strconv.Itoa(n) }
func contains(s, sub string) bool { return strings.Contains(s, sub) }
