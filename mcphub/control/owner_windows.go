package control

import "io/fs"

func ownedByMe(fs.FileInfo) bool { return true }

// processAlive is not checked on Windows: the record is trusted.
func processAlive(int) bool { return true }
