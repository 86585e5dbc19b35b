console.log("distsync 0.1.0");
