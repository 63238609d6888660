"""The analysis pipeline: intake -> detect -> install -> baseline -> plan -> generate -> execute
-> select -> findings -> report -> seal, defined once in statemachines/analysis.asl.json."""
