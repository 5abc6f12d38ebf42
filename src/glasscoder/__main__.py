from glasscoder.cli import main

main()
