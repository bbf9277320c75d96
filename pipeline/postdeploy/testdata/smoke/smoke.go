// Package smoke holds smoke tests run against a deployed environment.
package smoke
