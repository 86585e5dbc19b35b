// Importing the example registers its describe() blocks: the conformance suites it shows run here.
import "../examples/custom-transport-test.js";
