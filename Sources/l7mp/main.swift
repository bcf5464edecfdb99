L7mp.mainWithExitCodes()
