from rllab.cli.app import main

main()
