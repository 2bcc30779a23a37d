package main

import (
	"os"

	"github.com/go-logr/logr/funcr"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// newLogger builds the process logger and sends client-go's klog output
// through it, so that every line the process writes has one format.
func newLogger(format string, debug bool) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	if format == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	if debug {
		log.SetLevel(logrus.DebugLevel)
	}
	// main also uses the standard logger for its final error line.
	logrus.SetFormatter(log.Formatter)
	logrus.SetLevel(log.Level)

	clientGo := log.WithField("context", "client-go")
	klog.SetLogger(funcr.New(func(prefix, args string) {
		clientGo.Info(prefix + args)
	}, funcr.Options{}))
	return log
}
